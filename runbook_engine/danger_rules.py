"""Danger rules as data: which invocations of which tools destroy, stop or overwrite things.

Each row names a tool (or tools), a subcommand path found after the tool's global options
(``kubectl -n prod delete``), the flags, option values or operands that must be present, a
severity and the sentence the operator reads. `danger.py` applies them; how each tool's
arguments read (options that take values, wrappers such as ``sudo`` and ``ssh``) lives in
`danger_grammar.py`, and SQL/MongoDB/Redis statements in `danger_text.py`. `docs/format.md`
lists these rows (generated: ``python -m runbook_engine.danger_doc``).
"""

from __future__ import annotations

from dataclasses import dataclass

CRITICAL, HIGH, MEDIUM = 3, 2, 1
SEVERITY_NAMES = {CRITICAL: "critical", HIGH: "high", MEDIUM: "medium"}


# ---------------------------------------------------------------- command rules


@dataclass(frozen=True)
class Rule:
    """One destructive invocation: tool, subcommand path, conditions, severity, reason."""

    family: str
    tools: tuple[str, ...]
    path: tuple[str, ...]  # levels of ``a|b|c*`` alternatives; ``**`` searches the positionals
    severity: int
    reason: str  # ``{cmd}`` the tool as written, ``{sub}`` the words matched, ``{value}``
    flags: tuple[str, ...] = ()  # every group ``-r|-R|--recursive`` must be present
    unless: str = ""  # none of these flags may be present
    values: tuple[tuple[str, str], ...] = ()  # (``-X|--request``, ``DELETE|PUT``); ``~re`` regex
    unless_values: tuple[tuple[str, str], ...] = ()
    operand: str = ""  # a regex one operand after the path must match
    admin_url: bool = False  # an operand is a URL whose path says it destroys (``/_reset``)
    named: bool = False  # an operand (task, script) has a destructive word in its name
    stdin: bool = False  # only when fed data on stdin (a file, a pipe that is not echo)
    note: str = ""  # the condition in words, for the docs


_RULES: list[Rule] = []


def _r(family: str, tools: str, path: str, severity: int, reason: str, *,
       flags: str = "", unless: str = "", values: str = "", unless_values: str = "",
       operand: str = "", admin_url: bool = False, named: bool = False,
       stdin: bool = False, note: str = "") -> None:
    """Add a rule; ``flags`` groups are separated by spaces, ``values`` pairs by ``;``."""

    def pairs(text: str) -> tuple[tuple[str, str], ...]:
        return tuple(tuple(p.split("=", 1)) for p in text.split(";") if p)  # type: ignore[misc]

    _RULES.append(Rule(family, tuple(tools.split()), tuple(path.split()), severity, reason,
                       tuple(flags.split()), unless, pairs(values), pairs(unless_values),
                       operand, admin_url, named, stdin, note))


C, H, M = CRITICAL, HIGH, MEDIUM

# ---- files
_r("files", "rm", "", M, "{cmd} deletes files")
_r("files", "rm", "", H, "{cmd} -f deletes files without asking", flags="-f|--force")
_r("files", "rm", "", H, "{cmd} -r deletes directories recursively", flags="-r|-R|--recursive")
_r("files", "rm", "", C, "{cmd} -rf deletes files recursively without asking",
   flags="-r|-R|--recursive -f|--force")
_r("files", "unlink", "", M, "{cmd} deletes a file")
_r("files", "shred", "", C, "{cmd} overwrites files so they cannot be recovered")
_r("files", "truncate", "", H, "{cmd} empties or cuts files")
_r("files", "find", "", H, "{cmd} -delete deletes every file it matches", flags="-delete")
_r("files", "rsync", "", H, "{cmd} --delete deletes files at the destination that the "
   "source lacks", flags="--del|--delete|--delete-*|--remove-source-files")
_r("files", "rclone", "delete|deletefile|purge|rmdir|rmdirs|cleanup", H,
   "{cmd} {sub} deletes remote files")
_r("files", "rclone", "sync", H, "{cmd} sync deletes destination files the source lacks")
_r("files", "chmod", "", H, "{cmd} -R 777 makes files writable by everyone",
   flags="-R|--recursive", operand=r"^(0?777|a\+rwx|o\+w|a\+w|ugo\+rwx)$")
_r("files", "crontab", "", H, "{cmd} -r deletes the crontab", flags="-r")
_r("files", "atrm", "", M, "atrm deletes queued at jobs")
_r("files", "journalctl", "", M, "{cmd} --vacuum deletes journal files",
   flags="--vacuum-size|--vacuum-time|--vacuum-files")
# ---- disks and filesystems
_r("disks", "dd", "", H, "{cmd} writes raw bytes and can overwrite disks and files",
   operand=r"^of=")
_r("disks", "dd", "", C, "{cmd} writes raw bytes to a device", operand=r"^of=/dev/(?!null)")
for _tool in ("mkfs mkfs.* mke2fs mkswap mkdosfs mkntfs", "wipefs", "blkdiscard"):
    _r("disks", _tool, "", C, "{cmd} erases a filesystem or disk")
_r("disks", "fdisk gdisk cfdisk parted", "", H, "{cmd} rewrites a partition table",
   unless="-l|--list|print", operand=r"^/dev/")
_r("disks", "sfdisk", "", H, "{cmd} rewrites a partition table",
   unless="-l|--list|-d|--dump|-V|--verify|-s|--show-size")
_r("disks", "sgdisk", "", C, "{cmd} --zap-all destroys the partition tables",
   flags="-Z|--zap-all|-z|--zap|-o|--clear")
_r("disks", "sgdisk", "", H, "{cmd} rewrites a disk's partition table (-R copies one over it, "
   "-d deletes a partition)", flags="-R|--replicate|-d|--delete")
_r("disks", "lvremove vgremove pvremove lvreduce", "", C, "{cmd} removes LVM storage")
_r("disks", "zpool", "destroy|labelclear", C, "{cmd} {sub} destroys a ZFS pool")
_r("disks", "zfs", "destroy", C, "{cmd} destroy deletes a dataset or snapshot")
_r("disks", "zfs", "rollback", H, "{cmd} rollback discards changes since the snapshot")
_r("disks", "zfs", "receive|recv", C, "{cmd} {sub} -F rolls the target back and overwrites it",
   flags="-F")
_r("disks", "zpool", "export|offline|detach|remove|split", H, "{cmd} {sub} takes a pool or its "
   "disks out of service")
_r("disks", "vgreduce vgexport", "", H, "{cmd} takes disks or a volume group out of service")
_r("disks", "vgchange lvchange", "", H, "{cmd} -an deactivates volumes, so their filesystems go "
   "away", values="-a|--activate=n|ln|en")
_r("disks", "lvconvert", "", C, "lvconvert --merge reverts the volume to its snapshot",
   flags="--merge|--mergesnapshot")
_r("disks", "resize2fs", "", M, "resize2fs to a given size may shrink the filesystem",
   operand=r"^\d+[KMGTs]?$")
_r("disks", "swapoff", "", M, "{cmd} takes swap away from the running system")
_r("disks", "btrfs", "subvolume|sub delete|del", C, "{cmd} subvolume delete deletes a "
   "subvolume")
_r("disks", "mdadm", "", H, "{cmd} stops, fails or wipes a RAID member",
   flags="-S|--stop|-r|--remove|-f|--fail|--zero-superblock")
_r("disks", "mdadm", "", H, "{cmd} --assemble --force builds an array from members that "
   "disagree, and may lose the newest writes", flags="-A|--assemble --force")
_r("disks", "cryptsetup", "erase|luksErase|luksKillSlot|luksRemoveKey", C,
   "{cmd} {sub} destroys encryption keys")
_r("disks", "nvme", "format|sanitize", C, "{cmd} {sub} erases the drive")
_r("disks", "ceph-volume", "lvm zap", C, "{cmd} lvm zap wipes a disk")
_r("disks", "hdfs hadoop", "dfs|fs", H, "{cmd} {sub} -rm deletes files from HDFS",
   flags="-rm|-rmr|-rmdir|-expunge|-truncate")
_r("disks", "hdfs hadoop", "dfs|fs", C, "{cmd} {sub} -rm -skipTrash deletes files from HDFS for "
   "good", flags="-rm|-rmr|-rmdir -skipTrash")
_r("disks", "xfs_repair", "", C, "xfs_repair -L zeroes the log, losing the last writes",
   flags="-L")
# ---- processes
_r("processes", "kill", "", H, "kill -9 stops processes without letting them clean up",
   flags="-9|-KILL|-kill|-SIGKILL|-sigkill", note="also `-s KILL`, `--signal 9`")
_r("processes", "kill", "", H, "kill -9 stops processes without letting them clean up",
   values="-s|--signal|-n=9|KILL|SIGKILL|kill|sigkill")
_r("processes", "pkill killall", "", H, "{cmd} kills every process matching a name or pattern",
   unless="-0|-HUP|-SIGHUP|-1|-USR1|-SIGUSR1|-USR2|-SIGUSR2|-CONT|-SIGCONT|-l|--list",
   unless_values="-s|--signal=0|HUP|SIGHUP|USR1|SIGUSR1|USR2|SIGUSR2|CONT")
_r("processes", "pm2", "stop", H, "{cmd} stop stops managed processes")
_r("processes", "pm2", "delete|del", H, "{cmd} {sub} stops processes and removes them from pm2")
_r("processes", "pm2", "kill", H, "{cmd} kill stops the pm2 daemon and every process it runs")
_r("processes", "pm2", "flush", M, "{cmd} flush deletes the log files")
_r("processes", "fuser", "", H, "fuser -k kills every process using the file or port",
   flags="-k|--kill")
_r("processes", "tmux", "kill-server|kill-session", M, "{cmd} {sub} kills terminal sessions "
   "and their processes")
_r("processes", "supervisorctl", "stop|remove|shutdown", H, "{cmd} {sub} stops supervised "
   "programs")
_r("processes", "sv", "down|stop|kill|exit|force-stop|force-shutdown", H, "{cmd} {sub} stops "
   "a service")
# ---- services and hosts
_r("services", "systemctl", "stop|kill", H, "{cmd} {sub} stops a service")
_r("services", "systemctl", "disable|mask", H, "{cmd} {sub} keeps a service from starting")
_r("services", "systemctl", "disable|mask", H, "{cmd} {sub} --now stops a service and keeps it "
   "from starting", flags="--now")
_r("services", "systemctl", "isolate", H, "{cmd} isolate stops every unit the target lacks")
_r("services", "systemctl", "reboot|poweroff|halt|kexec|rescue|emergency|soft-reboot", C,
   "{cmd} {sub} takes the machine down")
_r("services", "service", "* stop|force-stop|onestop|forcestop|faststop|quietstop", H,
   "service {sub} stops a service")
_r("services", "rc-service invoke-rc.d", "* stop", H, "{cmd} stop stops a service")
_r("services", "initctl", "stop", H, "{cmd} stop stops a service")
_r("services", "update-rc.d", "* remove|disable", M, "{cmd} {sub} disables a service at boot")
_r("services", "chkconfig", "* off", M, "{cmd} off disables a service at boot")
_r("services", "launchctl", "unload|bootout|remove|stop|kill|disable", H,
   "{cmd} {sub} stops or removes a service")
_r("services", "brew", "services stop", M, "brew services stop stops a service")
_r("services", "nginx", "", H, "nginx -s {value} stops the web server",
   values="-s=stop|quit")
_r("services", "apachectl apache2ctl httpd", "stop|graceful-stop", H,
   "{cmd} {sub} stops the web server")
_r("services", "apachectl apache2ctl httpd", "", H, "{cmd} -k stop stops the web server",
   values="-k=stop|graceful-stop")
_r("hosts", "reboot poweroff halt", "", C, "{cmd} takes the machine down",
   unless="--help|-w|--wtmp-only")
_r("hosts", "shutdown", "", C, "shutdown takes the machine down",
   unless="-c|/a|--help|-k")
_r("hosts", "ipmitool", "** power", C, "ipmitool power {value} cuts or cycles the machine's "
   "power", operand=r"^(off|reset|cycle|soft|down)$")
_r("hosts", "racadm", "serveraction", C, "racadm serveraction {value} cuts or cycles the "
   "machine's power", operand=r"(?i)^(powerdown|powercycle|hardreset|graceshutdown)$")
_r("hosts", "init telinit", "0|6|1|s|S", C, "{cmd} {sub} changes the runlevel and takes the "
   "machine down")
# ---- network and firewall
_r("network", "iptables ip6tables", "", H, "{cmd} -F removes every firewall rule",
   flags="-F|--flush")
_r("network", "iptables ip6tables", "", H, "{cmd} -X deletes firewall chains",
   flags="-X|--delete-chain")
_r("network", "iptables ip6tables", "", H, "{cmd} -P ... DROP blocks traffic by default",
   flags="-P|--policy", operand=r"^(DROP|REJECT)$")
_r("network", "nft", "flush|delete", H, "{cmd} {sub} removes firewall rules")
_r("network", "ufw", "disable|reset|delete", H, "{cmd} {sub} removes the firewall rules")
_r("network", "ip", "link|l set|s", H, "ip link set ... down takes a network interface down",
   operand=r"^down$")
_r("network", "ip", "link|l delete|del", H, "ip link delete removes a network interface")
_r("network", "ip", "addr|address|a|route|r|ro flush|del|delete|f", H,
   "ip {sub} removes addresses or routes")
_r("network", "ifdown", "", H, "{cmd} takes a network interface down")
_r("network", "wg", "set", H, "wg set ... remove removes a WireGuard peer", operand=r"^remove$")
_r("network", "sysctl", "", M, "sysctl -w changes a kernel setting on the running system",
   flags="-w|--write")
_r("network", "ifconfig", "", H, "{cmd} ... down takes a network interface down",
   operand=r"^down$")
_r("network", "nmcli", "connection|con|c|device|dev|d down|delete|disconnect|del", H,
   "nmcli {sub} takes a network connection down")
_r("network", "nmcli", "networking|radio off", H, "nmcli {sub} turns networking off")
# ---- users and directories
_r("users", "userdel deluser groupdel delgroup", "", H, "{cmd} deletes an account")
_r("users", "chage usermod", "", H, "{cmd} expiring the account on {value} locks everyone out",
   values=r"-E|-e|--expiredate=~^(0|1|1970-01-0[12])$")
_r("users", "usermod", "", H, "usermod -L locks the account", flags="-L|--lock")
_r("users", "kadmin kadmin.local", "", H, "kadmin -q {value} deletes Kerberos principals or keys",
   values=r"-q|-query=~^\s*(delprinc|delete_principal|delpol|delete_policy|purgekeys|ktremove)\b")
# ---- mail
_r("mail", "postsuper", "", H, "postsuper -d deletes queued mail", flags="-d")
_r("mail", "postsuper", "", C, "postsuper -d ALL deletes the whole mail queue", flags="-d",
   operand=r"^ALL$")
_r("mail", "exim exim4", "", H, "exim -Mrm deletes queued messages", flags="-Mrm|-Mg")

# ---- containers
_DOCKER = "docker podman nerdctl"
_r("containers", _DOCKER, "rm", H, "{cmd} rm deletes containers")
_r("containers", _DOCKER, "rmi", H, "{cmd} rmi deletes images")
_r("containers", _DOCKER, "kill|stop", H, "{cmd} {sub} stops containers")
_r("containers", _DOCKER, "container rm|remove|prune|kill|stop", H, "{cmd} {sub} stops or "
   "deletes containers")
_r("containers", _DOCKER, "image rm|remove|prune", H, "{cmd} {sub} deletes images")
_r("containers", _DOCKER, "network rm|remove|prune", H, "{cmd} {sub} deletes networks")
_r("containers", _DOCKER, "node|service|stack|secret|config|plugin|manifest|context|pod|"
   "machine|farm|artifact|quadlet|kube rm|remove|down|prune|kill|stop", H,
   "{cmd} {sub} stops or removes it from the engine or the swarm")
_r("containers", _DOCKER, "volume rm|remove|prune", C, "{cmd} {sub} deletes volume data")
_r("containers", _DOCKER, "system|builder|buildx prune", H, "{cmd} {sub} deletes unused "
   "containers, images and networks")
_r("containers", _DOCKER, "system prune", C, "{cmd} system prune --volumes also deletes "
   "volume data", flags="--volumes")
_r("containers", _DOCKER, "swarm leave", H, "{cmd} swarm leave removes the node from the swarm")
_r("containers", _DOCKER, "system reset", C, "{cmd} system reset deletes every container, image "
   "and volume")
_r("containers", _DOCKER, "compose stop|kill", H, "{cmd} {sub} stops the project's containers")
_r("containers", _DOCKER, "compose rm|down", H,
   "{cmd} {sub} stops and removes the project's containers")
_r("containers", _DOCKER, "compose down", C, "docker compose down -v deletes the volumes and "
   "their data", flags="-v|--volumes")
_r("containers", "docker-compose podman-compose", "stop|kill", H,
   "{cmd} {sub} stops the project's containers")
_r("containers", "docker-compose podman-compose", "rm|down", H,
   "{cmd} {sub} stops and removes the project's containers")
_r("containers", "docker-compose podman-compose", "down", C, "docker compose down -v deletes "
   "the volumes and their data", flags="-v|--volumes")
_r("containers", "crictl", "rm|stop", H, "{cmd} {sub} stops or deletes containers")
_r("containers", "crictl", "rmp|stopp", H, "{cmd} {sub} stops or deletes pods")
_r("containers", "crictl", "rmi", H, "{cmd} rmi deletes images")
_r("containers", "ctr", "** rm|delete|del|remove|kill", H, "{cmd} {sub} deletes or kills "
   "containers, images or tasks")
_r("containers", "lxc incus", "delete|stop", H, "{cmd} {sub} stops or deletes an instance")
_r("containers", "virsh", "destroy|undefine|shutdown|reboot|reset|vol-delete|vol-wipe|"
   "pool-delete|pool-destroy|pool-undefine|snapshot-delete|snapshot-revert|net-destroy|"
   "net-undefine|detach-disk|detach-interface|managedsave-remove", H, "{cmd} {sub} stops or "
   "deletes a virtual machine, its storage or its network")
_r("containers", "govc", "vm.power", H, "govc vm.power powers a VM off, resets or suspends it",
   flags="-off|-s|-r|-reset|-suspend")
_r("containers", "govc", "vm.destroy|vm.unregister|snapshot.remove|datastore.rm|pool.destroy|"
   "host.remove|object.destroy", H, "govc {sub} deletes VMs, snapshots or files")
_r("containers", "vim-cmd", "vmsvc/power.off|vmsvc/power.shutdown|vmsvc/power.reset|"
   "vmsvc/destroy|vmsvc/unregister|vmsvc/snapshot.remove|vmsvc/snapshot.removeall", H,
   "vim-cmd {sub} powers off or deletes a VM or its snapshots")
_r("containers", "vagrant", "destroy|halt", H, "{cmd} {sub} stops or deletes the machine")
_r("containers", "multipass", "delete|purge|stop", H, "{cmd} {sub} stops or deletes an "
   "instance")
# ---- kubernetes
_K = "kubectl oc"
_r("kubernetes", _K, "delete", H, "{cmd} delete removes cluster resources")
_r("kubernetes", _K, "delete namespace|namespaces|ns|project|projects", C,
   "{cmd} {sub} deletes the namespace and everything in it")
_r("kubernetes", _K, "delete pv|pvc|persistentvolume*|persistentvolumeclaim*", C,
   "{cmd} {sub} deletes volumes and possibly their data")
_r("kubernetes", _K, "delete crd|crds|customresourcedefinition*", C,
   "{cmd} {sub} deletes a resource type and every object of it")
_r("kubernetes", _K, "delete node|nodes|no", C, "{cmd} {sub} removes nodes from the cluster")
_r("kubernetes", _K, "delete", C, "{cmd} delete --all removes every resource of the kind",
   flags="--all")
_r("kubernetes", _K, "delete", C, "{cmd} delete -A removes matching resources in every "
   "namespace", flags="-A|--all-namespaces")
_r("kubernetes", _K, "delete", C, "{cmd} delete --force removes pods without waiting for "
   "them to stop", flags="--force", values="--grace-period=0")
_r("kubernetes", _K, "drain", H, "{cmd} drain evicts every pod from a node")
_r("kubernetes", "oc", "adm drain|prune", H, "oc {sub} evicts or deletes cluster resources")
_r("kubernetes", _K, "replace", H, "{cmd} replace --force deletes and recreates resources",
   flags="--force")
_r("kubernetes", _K, "scale", H, "{cmd} scale --replicas=0 stops every pod of the workload",
   values="--replicas=0")
_r("kubernetes", _K, "apply", H, "{cmd} apply --prune deletes resources missing from the "
   "manifests", flags="--prune")
_r("kubernetes", _K, "patch", M, "{cmd} patch removing finalizers lets deletion skip its "
   "cleanup", values="-p|--patch=*finalizers*")
_r("kubernetes", _K, "taint", M, "{cmd} taint NoExecute evicts pods from the node",
   operand=r"NoExecute")
_r("kubernetes", _K, "rollout undo", M, "{cmd} rollout undo rolls a workload back to an "
   "earlier revision")
_r("kubernetes", "helm", "uninstall|delete|del|un", H, "helm {sub} removes a release and its "
   "resources")
_r("kubernetes", "helm", "rollback", M, "helm rollback rolls a release back to an earlier "
   "revision")
_r("kubernetes", "mv", "", H, "mv of a static pod manifest out of /etc/kubernetes/manifests "
   "stops that pod", operand=r"^/etc/kubernetes/manifests/[^/]+\.(ya?ml|json)$")
_r("kubernetes", "kubeadm", "reset", C, "kubeadm reset wipes the node's Kubernetes state")
_r("kubernetes", "velero", "backup|schedule|restore delete", H, "velero {sub} deletes backups")
_r("kubernetes", "velero", "restore create", H, "velero restore create restores resources "
   "over the cluster")
_r("kubernetes", "argocd", "app delete|rollback", H, "argocd {sub} deletes or rolls back an "
   "application")
_r("kubernetes", "flux", "delete|uninstall", H, "flux {sub} removes GitOps resources")
_r("kubernetes", "istioctl linkerd", "uninstall", H, "{cmd} uninstall removes the mesh")
_r("kubernetes", "eksctl kops kind k3d minikube", "** delete", C,
   "{cmd} delete deletes a cluster or its nodes")
_r("kubernetes", "eksctl", "drain", H, "eksctl drain evicts every pod from a node group")
_r("kubernetes", "minikube microk8s", "stop|reset", H, "{cmd} {sub} stops or resets the "
   "cluster")
_r("kubernetes", "talosctl", "reset|reboot|shutdown", C, "talosctl {sub} wipes or takes down "
   "a node")
# ---- data stores: CLIs whose subcommands delete or take nodes out
_r("data stores", "redis-cli valkey-cli keydb-cli", "del|unlink|hdel|getdel", H,
   "{cmd} {sub} deletes keys")
_r("data stores", "redis-cli valkey-cli keydb-cli", "flushall", C,
   "FLUSHALL deletes every key in every Redis database")
_r("data stores", "redis-cli valkey-cli keydb-cli", "flushdb", C,
   "FLUSHDB deletes every key in the Redis database")
_r("data stores", "redis-cli valkey-cli keydb-cli", "shutdown", C, "{cmd} {sub} stops the "
   "Redis server")
_r("data stores", "redis-cli valkey-cli keydb-cli", "script|function flush", H,
   "{cmd} {sub} deletes every server-side script")
_r("data stores", "redis-cli valkey-cli keydb-cli", "client kill", M, "{cmd} {sub} "
   "disconnects clients")
_r("data stores", "redis-cli valkey-cli keydb-cli", "sentinel failover|reset|remove", H,
   "{cmd} {sub} changes which Sentinel-managed server is the primary")
_r("data stores", "redis-cli valkey-cli keydb-cli", "cluster reset|failover|forget", H,
   "{cmd} {sub} changes the cluster's topology")
_r("data stores", "redis-cli valkey-cli keydb-cli", "replicaof|slaveof|failover|swapdb|debug",
   H, "{cmd} {sub} changes which server holds the data")
_r("data stores", "redis-cli valkey-cli keydb-cli", "", H, "redis-cli --cluster {value} "
   "changes the cluster's topology", values="--cluster=del-node|fix|reshard|rebalance")
_r("data stores", "redis-cli valkey-cli keydb-cli", "", C, "redis-cli --cluster call runs a "
   "deleting command on every node", values="--cluster=call",
   operand=r"(?i)^(flushall|flushdb|del|unlink|shutdown)$")
_r("data stores", "redis-cli valkey-cli keydb-cli", "", H, "redis-cli --pipe loads data into "
   "Redis", flags="--pipe")
_r("data stores", "etcdctl", "del|rm|rmdir", H, "etcdctl {sub} deletes keys")
_r("data stores", "etcdctl", "move-leader", H, "etcdctl move-leader hands leadership to "
   "another member")
_r("data stores", "etcdctl", "user|role delete|revoke*", H, "etcdctl {sub} deletes access")
_r("data stores", "etcdctl", "lease revoke", H, "etcdctl lease revoke deletes every key "
   "attached to the lease")
_r("data stores", "etcdctl", "member remove", H, "etcdctl member remove takes a member out of "
   "the cluster")
_r("data stores", "etcdctl etcdutl", "snapshot restore", C, "{cmd} snapshot restore replaces "
   "the cluster's data")
_r("data stores", "consul", "kv delete|leave|force-leave", H, "consul {sub} deletes keys or "
   "removes a node")
_r("data stores", "consul", "operator raft remove-peer", H, "consul operator raft remove-peer "
   "removes a server")
_r("data stores", "nomad", "job stop|purge", H, "nomad {sub} stops a job")
_r("data stores", "nomad", "job revert", H, "nomad job revert rolls a job back to an earlier "
   "version")
_r("data stores", "nomad", "deployment|alloc fail|stop|signal", H, "nomad {sub} fails a "
   "deployment or stops allocations")
_r("data stores", "nomad", "var|namespace|volume purge|delete", H, "nomad {sub} deletes it")
_r("data stores", "nomad", "node drain", H, "nomad node drain moves every allocation off a "
   "node", flags="-enable")
_r("data stores", "vault", "** delete|destroy|disable|revoke|seal|step-down|remove-peer", H,
   "vault {sub} deletes secrets or takes Vault out of service")
_r("data stores", "vault", "** snapshot restore", C, "vault {sub} replaces every secret with "
   "the snapshot's")
_r("data stores", "zkCli.sh zkcli zookeeper-shell", "** delete|deleteall|rmr", H,
   "{cmd} {sub} deletes ZooKeeper nodes")
_r("data stores", "kafka-topics kafka-topics.sh", "", H, "{cmd} --delete deletes topics and "
   "their messages", flags="--delete")
_r("data stores", "kafka-consumer-groups kafka-consumer-groups.sh", "", H,
   "{cmd} deletes groups or moves their offsets", flags="--delete|--reset-offsets|"
   "--delete-offsets", unless="--dry-run")
_r("data stores", "kafka-acls kafka-acls.sh", "", H, "{cmd} --remove deletes access rules",
   flags="--remove")
_r("data stores", "kafka-storage kafka-storage.sh", "format", C, "{cmd} format erases a "
   "broker's log directories")
_r("data stores", "kafka-delete-records kafka-delete-records.sh", "", C, "{cmd} deletes "
   "messages from topics")
_r("data stores", "kafka-configs kafka-configs.sh", "", H, "{cmd} with a short retention makes "
   "the broker delete the topic's messages",
   values=r"--add-config=~retention\.(ms|bytes)=\d{1,6}\b")
_r("data stores", "rabbitmqctl", "delete_*|purge_queue|reset|force_reset|stop|stop_app|"
   "shutdown|forget_cluster_node|close_all_connections|close_connection", H,
   "rabbitmqctl {sub} deletes queues or takes the broker down")
_r("data stores", "rabbitmqadmin", "delete|purge|close", H, "rabbitmqadmin {sub} deletes or "
   "purges queues")
_r("data stores", "nats", "stream|str|consumer|con|kv|object rm|purge|del|delete", H,
   "nats {sub} deletes messages or streams")
_r("data stores", "nodetool", "decommission|removenode|assassinate|drain|stopdaemon|"
   "truncatehints|disablegossip|disablebinary|clearsnapshot", H,
   "nodetool {sub} takes a Cassandra node out of service or deletes data")
# `ceph osd out` only marks an OSD out: its data is copied elsewhere and `ceph osd in` undoes it
# (like a cordon), so it is no row
_r("data stores", "gluster", "volume replace-brick", H, "gluster volume replace-brick moves a "
   "brick's role to another (commit force skips copying its data first)")
_r("data stores", "gluster", "peer detach", H, "gluster peer detach removes a server from the "
   "trusted pool")
_r("data stores", "solr", "zk upconfig", H, "solr zk upconfig replaces a config set for every "
   "collection that uses it")
_r("databases", "hdbnsutil", "", H, "{cmd} -sr_register makes this site a secondary: its data "
   "is replaced from the primary", flags="-sr_register")
_r("databases", "hdbnsutil", "", H, "{cmd} takes over as primary or removes system replication",
   flags="-sr_takeover|-sr_unregister|-sr_disable")
_r("data stores", "ceph", "osd down|rm|purge|destroy|lost", H, "ceph {sub} takes an OSD "
   "out of the cluster")
_r("data stores", "ceph", "osd pool delete|rm", C, "ceph {sub} deletes a pool and its data")
_r("data stores", "ceph", "osd crush remove|rm|unlink", H, "ceph {sub} changes where data "
   "lives")
_r("data stores", "ceph", "auth|mon|fs|orch del|rm|remove|fail", H, "ceph {sub} removes a "
   "cluster component")
_r("data stores", "ceph", "orch host|daemon|osd rm", H, "ceph {sub} removes a cluster "
   "component")
_r("data stores", "rbd", "rm|remove|purge|trash", H, "rbd {sub} deletes block images")
_r("data stores", "rbd", "snap purge|rm|remove|rollback", H, "rbd {sub} deletes or rolls "
   "back snapshots")
_r("data stores", "rados", "rm|purge|rmpool|cleanup", C, "rados {sub} deletes objects or "
   "pools")
_r("data stores", "radosgw-admin", "** rm", H, "radosgw-admin {sub} deletes users or buckets")
# ---- databases (tools)
_r("databases", "dropdb", "", C, "dropdb deletes a database")
_r("databases", "dropuser", "", H, "dropuser deletes a database role")
_r("databases", "mysqladmin", "drop", C, "mysqladmin drop deletes a database")
_r("databases", "mysqladmin", "shutdown|kill", H, "mysqladmin {sub} stops the server or "
   "kills sessions")
_r("databases", "pg_ctl", "stop|kill|promote", H, "pg_ctl {sub} stops or promotes the server")
_r("databases", "pg_ctlcluster", "* * stop|promote", H, "pg_ctlcluster stop stops a cluster")
_r("databases", "pg_dropcluster", "", C, "pg_dropcluster deletes a cluster and its data")
_r("databases", "pg_resetwal pg_resetxlog", "", C, "{cmd} resets the write-ahead log and can "
   "lose data")
_r("databases", "pg_rewind", "", C, "pg_rewind overwrites the data directory")
_r("databases", "patronictl", "failover|switchover|remove|reinit", H, "patronictl {sub} "
   "changes the primary or wipes a member")
_r("databases", "repmgr", "standby|primary|node promote|switchover|unregister|rejoin", H,
   "repmgr {sub} changes the primary")
_r("databases", "mongod", "", H, "mongod --shutdown stops the server", flags="--shutdown")
_r("databases", "neo4j-admin", "** load|restore", C, "neo4j-admin {sub} --overwrite-destination "
   "replaces the database", values="--overwrite-destination=true")
_r("databases", "flyway", "clean", C, "flyway clean drops every object in the schema")
_r("databases", "liquibase", "dropAll|drop-all|rollback*|rollbackCount", C,
   "liquibase {sub} drops or rolls back database objects")
_r("databases", "alembic", "downgrade", H, "alembic downgrade reverts schema migrations")
# ---- restores into a live database
_r("restores", "pg_restore", "", H, "pg_restore restores into a database, overwriting data",
   unless="-l|--list")
_r("restores", "pg_restore", "", C, "pg_restore --clean drops database objects before "
   "recreating them", flags="-c|--clean")
_r("restores", "mongorestore", "", H, "mongorestore restores into a database, overwriting data")
_r("restores", "mongorestore", "", C, "mongorestore --drop drops each collection before "
   "restoring it", flags="--drop")
_r("restores", "mysqlimport", "", H, "mysqlimport loads files into tables")
_r("restores", "psql mysql mariadb sqlite3 mongo mongosh clickhouse-client cqlsh sqlcmd sqlplus",
   "",
   H, "{cmd} fed a file restores or replays it into a database", stdin=True,
   note="its input is a file or a pipe that is not `echo`")
_r("restores", "psql mysql mariadb", "", H, "{cmd} -f runs a dump file against the database",
   values="-f|--file=*dump*|*backup*|*restore*|*.bak|*.sql.gz")
_r("restores", "pgbackrest", "restore", C, "pgbackrest restore overwrites the data directory")
_r("restores", "barman", "recover", C, "barman recover overwrites a data directory")
_r("restores", "wal-g", "backup-fetch|delete", C, "wal-g {sub} overwrites or deletes backups")
_r("restores", "restic", "forget|prune", H, "restic {sub} deletes snapshots")
_r("restores", "restic", "restore", C, "restic restore --target / writes over the live system",
   values="--target|-t=/")
_r("restores", "gitlab-backup", "restore", C, "gitlab-backup restore replaces GitLab's data")
_r("restores", "gitlab-rake rake", "gitlab:backup:restore", C, "gitlab-rake gitlab:backup:restore "
   "replaces GitLab's data")
_r("restores", "gitlab-ctl", "stop|cleanse|remove-accounts", H, "gitlab-ctl {sub} stops or "
   "wipes GitLab")
# ---- HTTP calls that change state
_r("http", "curl", "", H, "curl -X {value} changes state on the server",
   values="-X|--request=DELETE|PUT|PATCH|PURGE|BAN|delete|put|patch|purge")
_r("http", "curl", "", H, "curl -X POST to an admin path changes state on the server",
   values="-X|--request=POST|post", admin_url=True)
_r("http", "curl", "", H, "curl POST to an admin path changes state on the server",
   flags="-d|--data|--data-raw|--data-binary|--data-urlencode|--json|-F|--form",
   admin_url=True)
# RPC-style admin APIs take the action in the query, even on a GET (Solr's
# ``collections?action=DELETE``, Tomcat's ``manager/text/undeploy?path=/app``); a REST GET of
# ``.../delete`` only lists (Loki's delete requests)
_ACTION_URL = (r"(?i)[?&](?:action|cmd|command|op|operation|do|verb)=(?:delete|remove|drop|purge|"
               r"destroy|unload|shutdown|stop|kill|wipe|truncate|reset|undeploy|disable|terminate|"
               r"expunge|flush)|/undeploy(?:[?#]|$)")
_r("http", "curl wget http https xh xhs", "", H, "{cmd} calls an admin action that deletes or "
   "stops: {value}",
   operand=_ACTION_URL, note="the action in the URL (`?action=DELETE`, `.../undeploy?path=`)")
_r("http", "curl", "", H, "curl -T uploads a file over what the server holds",
   flags="-T|--upload-file")
_r("http", "wget", "", H, "wget --method {value} changes state on the server",
   values="--method=DELETE|PUT|PATCH|delete|put|patch")
_r("http", "wget", "", H, "wget POST to an admin path changes state on the server",
   flags="--post-data|--post-file|--method", admin_url=True)
_r("http", "http https xh xhs", "delete|put|patch|purge", H, "{cmd} {sub} changes state on the "
   "server")
_r("http", "http https xh xhs", "post", H, "{cmd} POST to an admin path changes state on the "
   "server", admin_url=True)
_r("http", "DELETE PUT PATCH PURGE", "", H, "an HTTP {cmd} request changes state on the server",
   operand=r"^(?!(?i:from|table|into)$)[\w/.:*%,-]", note="a request line (`DELETE /index`)")
_r("http", "POST", "", H, "an HTTP POST to an admin path changes state on the server",
   admin_url=True)
_r("http", "gh glab", "api", H, "{cmd} api -X {value} changes state on the server",
   values="-X|--method=DELETE|PUT|PATCH|delete|put|patch")
_r("http", "invoke-restmethod invoke-webrequest", "", H, "{cmd} -Method {value} "
   "changes state on the server", values="-method=delete|put|patch")
_r("http", "invoke-restmethod invoke-webrequest", "", H, "{cmd} -Method Post to an admin path "
   "changes state on the server", values="-method=post", admin_url=True)
# ---- cloud
_r("cloud", "aws", "* delete-*|*-delete-*|terminate-*|remove-*|deregister-*|purge-*|revoke-*|"
   "disable-*|reset-*|failover-*|promote-*", H, "aws {sub} deletes or disables cloud "
   "resources")
_r("cloud", "aws", "* terminate-*|delete-db-*|delete-bucket|delete-table|delete-stack|"
   "delete-cluster|delete-file-system|delete-volume|delete-snapshot|delete-secret|delete-key*",
   C, "aws {sub} deletes cloud resources and their data")
_r("cloud", "aws", "* stop-*|reboot-*", H, "aws {sub} stops or reboots cloud resources")
_r("cloud", "aws", "s3 rm|rb", H, "aws {sub} deletes objects or buckets")
_r("cloud", "aws", "s3 rm", C, "aws s3 rm --recursive deletes every object under the prefix",
   flags="--recursive")
_r("cloud", "aws", "s3 rb", C, "aws s3 rb --force deletes the bucket and every object in it",
   flags="--force")
_r("cloud", "aws", "s3 sync", H, "aws s3 sync --delete deletes objects the source lacks",
   flags="--delete")
_r("cloud", "aws", "* update-service|update-auto-scaling-group|set-desired-capacity", H,
   "aws {sub} scales to zero", values="--desired-count|--desired-capacity|--max-size=0")
_r("cloud", "gcloud", "** delete|delete-instances|abandon-instances|destroy|disable", H,
   "gcloud {sub} deletes cloud resources")
_r("cloud", "gcloud", "** stop|reset|suspend|failover|restore|restore-backup", H,
   "gcloud {sub} stops, "
   "resets or overwrites cloud resources")
_r("cloud", "gcloud", "** remove-*", M, "gcloud {sub} removes bindings or metadata")
_r("cloud", "gcloud", "** resize", H, "gcloud {sub} to zero stops every node",
   values="--num-nodes|--size=0")
_r("cloud", "gcloud", "storage rm", H, "gcloud storage rm deletes objects")
_r("cloud", "gsutil", "rm|rb", H, "gsutil {sub} deletes objects or buckets")
_r("cloud", "gsutil", "rsync", H, "gsutil rsync -d deletes objects the source lacks",
   flags="-d")
_r("cloud", "az", "** delete*|purge|stop|deallocate|remove|revoke*|failover|deprovision", H,
   "az {sub} deletes or stops cloud resources")
_r("cloud", "az", "** restore|restore-*", H, "az {sub} puts back older data over what is there")
_r("cloud", "az", "group delete", C, "az group delete deletes a resource group and everything "
   "in it")
_r("cloud", "az", "** scale|update", H, "az {sub} to zero stops every node",
   values="--node-count|--count|--instance-count|--replicas=0")
_r("cloud", "az", "vm|vmss restart|reimage", H, "az {sub} reboots or reimages machines")
_r("cloud", "azcopy", "remove|rm", H, "azcopy {sub} deletes blobs or files")
_r("cloud", "azcopy", "sync", H, "azcopy sync --delete-destination deletes what the source "
   "lacks", values="--delete-destination=true|prompt")
_r("cloud", "doctl hcloud linode-cli scw exo", "** delete|rm|d|destroy|shutdown|poweroff|"
   "power-off|reset|reboot|power-cycle", H, "{cmd} {sub} deletes or stops cloud resources")
_r("cloud", "fly flyctl", "** destroy|stop|failover", H, "{cmd} {sub} deletes or stops apps "
   "or machines")
_r("cloud", "fly flyctl", "scale count", H, "{cmd} scale count 0 stops every machine",
   operand=r"^0$")
_r("cloud", "heroku", "*:destroy|*:reset|*:kill|*:killall|*:stop|*:restore|*:rollback|"
   "*:promote|*:delete|*:remove|*:wipe|*:purge|pg:copy|*:detach|destroy", H,
   "heroku {sub} deletes, stops or overwrites app data")
_r("cloud", "vercel", "remove|rm", H, "vercel {sub} deletes deployments")
_r("cloud", "netlify firebase", "*:delete|*:remove|*:disable|delete|remove", H,
   "{cmd} {sub} deletes a site or its data")
_r("cloud", "supabase", "db reset", C, "supabase {sub} resets or deletes the database")
_r("cloud", "supabase", "projects delete", C, "supabase {sub} resets or deletes the database")
_r("cloud", "supabase", "stop", M, "supabase stop stops the local stack")
_r("cloud", "gh glab", "** delete", H, "{cmd} {sub} deletes a repository, release or secret")
_r("cloud", "gh glab", "** disable|cancel", H, "{cmd} {sub} stops a workflow or a run")
# ---- object storage clients
_r("cloud", "mc mcli", "rm|rb|del", H, "{cmd} {sub} deletes objects or buckets")
_r("cloud", "mc mcli", "rm|rb", C, "{cmd} {sub} --recursive --force deletes every object "
   "under the path", flags="--recursive|-r|--force")
_r("cloud", "mc mcli", "admin", H, "{cmd} admin ... {value} deletes or disables users, "
   "policies or settings", operand=r"^(rm|remove|disable)$")
_r("cloud", "mc mcli", "mirror", H, "{cmd} mirror --remove deletes target objects the source "
   "lacks", flags="--remove|--delete")
_r("cloud", "mc mcli", "ilm rule add|edit", H, "{cmd} {sub} with an expiry makes the server "
   "delete objects", flags="--expire-days|--expiry-days|--noncurrent-expire-days")
_r("cloud", "s3cmd", "del|rm|rb|abortmp|delete", H, "s3cmd {sub} deletes objects, uploads or "
   "buckets")
_r("cloud", "s3cmd", "sync", H, "s3cmd sync --delete-removed deletes objects the source lacks",
   flags="--delete-removed|--delete-after")
# ---- infrastructure as code
_IAC = "terraform tofu terragrunt"
_r("iac", _IAC, "destroy", C, "{cmd} destroy deletes the resources it manages")
_r("iac", _IAC, "run-all destroy", C, "{cmd} run-all destroy deletes the resources it manages")
_r("iac", _IAC, "apply", C, "{cmd} apply -destroy deletes the resources it manages",
   flags="-destroy|--destroy")
_r("iac", _IAC, "apply|run-all", H, "{cmd} {sub} -auto-approve changes infrastructure without "
   "a review", flags="-auto-approve|--auto-approve")
_r("iac", _IAC, "state rm", H, "{cmd} state rm makes Terraform forget a resource it manages")
_r("iac", _IAC, "taint", M, "{cmd} taint forces the resource to be recreated")
_r("iac", _IAC, "workspace delete", H, "{cmd} workspace delete deletes a workspace's state")
_r("iac", _IAC, "force-unlock", M, "{cmd} force-unlock breaks another run's state lock")
_r("iac", "pulumi", "destroy|down", C, "pulumi destroy deletes the resources it manages")
_r("iac", "pulumi", "stack rm", H, "pulumi {sub} deletes state")
_r("iac", "pulumi", "state delete", H, "pulumi {sub} deletes state")
_r("iac", "pulumi", "up|update", H, "pulumi up --yes changes infrastructure without a review",
   flags="--yes|-y|--skip-preview")
_r("iac", "cdk cdktf", "destroy", C, "{cmd} destroy deletes the stacks it manages")
_r("iac", "serverless sls sam", "remove|delete", C, "{cmd} {sub} deletes the stack")
# ---- git
_r("git", "git", "reset", H, "git reset --hard discards uncommitted changes", flags="--hard")
_r("git", "git", "clean", H, "git clean -f deletes untracked files", flags="-f|--force")
_r("git", "git", "push", H, "git push --force rewrites history on the remote",
   flags="-f|--force|--force-with-lease|--force-if-includes|--mirror")
_r("git", "git", "push", H, "git push +refspec rewrites history on the remote",
   operand=r"^\+")
_r("git", "git", "push", H, "git push --delete deletes a branch or tag on the remote",
   flags="-d|--delete|--prune")
_r("git", "git", "push", H, "git push :branch deletes a branch or tag on the remote",
   operand=r"^:\S")
_r("git", "git", "branch", M, "git branch -D deletes a branch even if it is not merged",
   flags="-D")
_r("git", "git", "checkout|switch", M, "git {sub} --force discards uncommitted changes",
   flags="-f|--force|--discard-changes")
_r("git", "git", "stash", M, "git stash {value} deletes stashed changes", operand=r"^(drop|clear)$")
_r("git", "git", "filter-branch|filter-repo", H, "git {sub} rewrites the repository's history")
_r("git", "git", "reflog expire", M, "git reflog expire drops recovery points")
_r("git", "git", "tag", M, "git tag -d deletes a tag", flags="-d|--delete")
# ---- packages
_r("packages", "apt apt-get aptitude", "remove|purge|autoremove|autopurge", M,
   "{cmd} {sub} uninstalls packages")
_r("packages", "dpkg", "", M, "dpkg -r uninstalls packages", flags="-r|--remove|-P|--purge")
_r("packages", "yum dnf microdnf zypper", "remove|erase|autoremove|rm", M,
   "{cmd} {sub} uninstalls packages")
_r("packages", "rpm", "", M, "rpm -e uninstalls packages", flags="-e|--erase")
_r("packages", "pacman", "", M, "pacman -R uninstalls packages", flags="-R|--remove")
_r("packages", "apk", "del", M, "apk del uninstalls packages")
_r("packages", "pip pip3 pipx uv", "uninstall", M, "{cmd} uninstall uninstalls packages")
_r("packages", "uv", "pip uninstall", M, "uv pip uninstall uninstalls packages")
_r("packages", "npm pnpm yarn", "unpublish", H, "{cmd} unpublish deletes a published version")
_r("packages", "npm pnpm", "uninstall|remove|rm|un|r|unlink", M, "{cmd} {sub} -g uninstalls "
   "global packages", flags="-g|--global")
_r("processes", "yarn", "application|app", H, "yarn application -kill stops a Hadoop "
   "application", flags="-kill")
_r("packages", "yarn", "global remove", M, "yarn global remove uninstalls global packages")
_r("packages", "brew", "uninstall|remove|rm", M, "brew {sub} uninstalls packages")
_r("packages", "choco winget scoop", "uninstall|remove", M, "{cmd} {sub} uninstalls packages")
_r("packages", "snap flatpak", "remove|uninstall", M, "{cmd} {sub} uninstalls packages")
_r("packages", "gem cargo conda mamba", "uninstall|remove", M, "{cmd} {sub} uninstalls packages")
_r("packages", "helm", "plugin uninstall", M, "helm plugin uninstall uninstalls a plugin")
# ---- task runners and scripts whose names say they destroy
_r("scripts", "ansible", "", H, "ansible -a state=absent removes what the module manages",
   values="-a|--args=*state=absent*")
_r("scripts", "ansible", "", H, "ansible -a state=stopped stops a service",
   values="-a|--args=*state=stopped*")
_r("scripts", "make just task mage invoke inv rake", "", H, "{cmd} {value} runs a task whose "
   "name says it is destructive", named=True)
_r("scripts", "npm pnpm yarn bun", "run|run-script", H, "{cmd} run {value} runs a script "
   "whose name says it is destructive", named=True)
_r("scripts", "yarn", "", H, "yarn {value} runs a script whose name says it is destructive",
   named=True)
_r("scripts", "rails rake", "db:drop|db:reset|db:schema:load|db:purge|db:truncate_all|"
   "db:rollback|db:migrate:reset|db:migrate:redo|db:migrate:down", C,
   "{cmd} {sub} resets the database, deleting its data")
_r("scripts", "artisan", "migrate:fresh|migrate:reset|migrate:refresh|migrate:rollback|"
   "db:wipe", C, "artisan {sub} drops or rolls back the database")
_r("scripts", "manage.py django-admin", "flush|sqlflush|reset_db", C,
   "{cmd} {sub} deletes every row in the database")
_r("scripts", "mix", "ecto.drop|ecto.reset|ecto.rollback", C, "mix {sub} resets the database")
_r("scripts", "prisma", "migrate reset", C, "prisma migrate reset drops the database")
_r("scripts", "prisma", "db push", C, "prisma db push --force-reset drops the database",
   flags="--force-reset|--accept-data-loss")
_r("scripts", "sequelize sequelize-cli", "db:drop|db:migrate:undo:all|db:seed:undo:all", C,
   "{cmd} {sub} drops data")
_r("scripts", "typeorm knex", "schema:drop|migrate:rollback|migration:revert", C,
   "{cmd} {sub} drops or reverts the schema")
# ---- Windows
_r("windows", "del erase", "", H, "{cmd} deletes files")
_r("windows", "del erase", "", C, "{cmd} /s deletes files in every subdirectory", flags="/s")
_r("windows", "rd rmdir", "", C, "{cmd} /s deletes a directory tree", flags="/s")
_r("windows", "format", "", C, "format erases a volume", operand=r"(?i)^[a-z]:$")
_r("windows", "robocopy", "", H, "robocopy /MIR deletes destination files the source lacks",
   flags="/mir|/purge")
_r("windows", "taskkill", "", H, "taskkill /F kills processes", flags="/f")
_r("windows", "schtasks schtasks.exe", "", H, "schtasks /delete or /end deletes or stops a "
   "scheduled task", flags="/delete|/end")
_r("windows", "sc sc.exe", "stop|delete", H, "sc {sub} stops or deletes a service")
_r("windows", "sc sc.exe", "config", M, "sc config start= disabled disables a service",
   operand=r"(?i)^disabled$")
_r("windows", "net net.exe", "stop", H, "net stop stops a service")
_r("windows", "net", "ads|rpc leave", H, "net {sub} takes the host out of its domain")
_r("windows", "net net.exe", "user|localgroup|share", H, "net {sub} /delete deletes an "
   "account or share", flags="/delete|/del")
_r("windows", "reg reg.exe", "delete", H, "reg delete deletes registry keys")
_r("windows", "bcdedit", "", H, "bcdedit /delete changes how the machine boots",
   flags="/delete|/deletevalue")
_r("windows", "vssadmin", "delete|resize", C, "vssadmin {sub} deletes shadow copies")
_r("windows", "wmic", "** delete|terminate", H, "wmic {sub} deletes or kills")
_r("windows", "cipher", "", C, "cipher /w overwrites free space", flags="/w")
_r("windows", "wevtutil", "cl|clear-log", H, "wevtutil {sub} clears an event log")
_r("windows", "iisreset", "", M, "iisreset stops and starts IIS", flags="/stop")
# ---- PowerShell (cmdlet names compare case-insensitively; -WhatIf makes any of them safe)
_r("powershell", "remove-* uninstall-* unregister-* revoke-* dismount-* deny-* block-* lock-* "
   "undo-* unpublish-*", "", H,
   "{cmd} deletes or detaches what it names")
_r("powershell", "remove-item remove-itemproperty", "", C,
   "{cmd} -Recurse -Force deletes a directory tree without asking", flags="-recurse -force")
_r("powershell", "clear-*", "", H, "{cmd} erases the contents of what it names")
_r("powershell", "stop-*", "", H, "{cmd} stops what it names")
_r("powershell", "close-*", "", H, "{cmd} closes what others have open")
_r("powershell", "disable-* suspend-* reset-*", "", H, "{cmd} disables or resets what it "
   "names")
_r("services", "pcs", "resource move|relocate|ban", H, "pcs {sub} moves a cluster resource "
   "off its node (a failover)")
_r("services", "crm", "resource move|migrate|ban", H, "crm {sub} moves a cluster resource off "
   "its node (a failover)")
_r("powershell", "restart-computer stop-computer", "", C, "{cmd} takes the machine down")
_r("powershell", "move-clustergroup move-clustervirtualmachinerole move-clusterresource "
   "move-clustersharedvolume", "", H, "{cmd} fails a clustered role over to another node")
_r("powershell", "format-volume clear-disk initialize-disk remove-partition", "", C,
   "{cmd} erases a disk or volume")
_r("powershell", "set-service", "", H, "Set-Service disables or stops a service",
   values="-startuptype=disabled;", unless="-status")
_r("powershell", "move-addirectoryserveroperationmasterrole", "", H, "{cmd} moves (with "
   "-Force: seizes) domain controller roles")
_r("powershell", "set-adaccountpassword", "", H, "Set-ADAccountPassword -Reset replaces an "
   "account's password", flags="-reset")
_r("powershell", "set-service", "", H, "Set-Service -Status Stopped stops a service",
   values="-status=stopped")
_r("powershell", "rename-computer add-computer remove-computer install-windowsfeature "
   "uninstall-windowsfeature", "", H, "{cmd} -Restart reboots the machine", flags="-restart")

RULES: tuple[Rule, ...] = tuple(_RULES)
