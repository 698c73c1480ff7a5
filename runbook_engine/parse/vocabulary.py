"""Words and phrases the reader weighs: known programs, prose cues, fence tags, prompts (data)."""

from __future__ import annotations

import re

from .. import lazyre
from .lines import word_set

#: operations tools people type in runbooks (first word of a command)
OPS_TOOLS = word_set(
    # containers and orchestration
    "kubectl oc helm helmfile kustomize docker podman buildah skopeo crictl ctr nerdctl "
    "docker-compose minikube kind k3s k3d k9s kubeadm kubelet etcdctl istioctl linkerd argocd "
    "flux velero stern kubectx kubens cilium calicoctl nomad consul vault packer vagrant "
    "lxc lxc-attach incus virsh qm pct pvesh pvecm pveversion zpool zfs lvcreate lvextend "
    "pvs vgs lvs "
    # cloud and IaC
    "aws gcloud gsutil bq az azcopy doctl linode-cli hcloud oci ibmcloud terraform terragrunt "
    "tofu pulumi ansible ansible-playbook ansible-galaxy ansible-vault ansible-inventory "
    "salt salt-call puppet chef-client cdk sam eksctl rosa s3cmd rclone "
    # services and hosts
    "systemctl journalctl service chkconfig supervisorctl pm2 nginx apachectl apache2ctl httpd "
    "haproxy caddy certbot openssl keytool update-ca-certificates ufw firewall-cmd iptables nft "
    "ip ss netstat lsof ping traceroute tracepath mtr dig nslookup host nc ncat telnet curl wget "
    "http https httpie grpcurl tcpdump ssh scp sftp rsync ssh-keygen ssh-copy-id ssh-keyscan "
    "hostnamectl timedatectl localectl loginctl reboot shutdown poweroff halt uptime free top htop "
    "vmstat iostat mpstat sar dmesg df du mount umount lsblk blkid fdisk parted mkfs fsck "
    "smartctl mdadm xfs_repair resize2fs tune2fs swapon swapoff sysctl modprobe lsmod ulimit "
    # packages and languages
    "apt apt-get apt-cache dpkg yum dnf rpm zypper apk pacman brew snap flatpak pip pip3 pipx "
    "python python3 node npm npx yarn pnpm deno bun go cargo rustc java mvn gradle dotnet ruby "
    "gem bundle rails rake php composer perl make cmake gcc uv poetry tox pytest conda "
    # data stores and queues
    "psql pg_dump pg_dumpall pg_restore pg_basebackup pg_isready pg_ctl pg_ctlcluster "
    "pg_upgrade pg_lsclusters createdb dropdb createuser dropuser vacuumdb reindexdb pgbench "
    "patronictl pgbackrest barman repmgr mysql mysqldump mysqladmin mysqlcheck mysqlbinlog mariadb "
    "mariadb-dump xtrabackup mongo mongosh mongodump mongorestore mongoexport mongoimport "
    "redis-cli redis-server redis-benchmark redis-sentinel valkey-cli sqlite3 cqlsh nodetool "
    "clickhouse-client influx cockroach etcd kafka-topics kafka-topics.sh kafka-consumer-groups "
    "HDB sapcontrol hdbnsutil hdbsql runmqsc dspmq strmqm endmqm dltmqm crtmqm "
    "kafka-consumer-groups.sh kafka-console-consumer kafka-console-producer kafka-configs "
    "rabbitmqctl rabbitmq-diagnostics rabbitmq-plugins rabbitmq-queues rabbitmqadmin nats "
    "elasticsearch-plugin zkCli.sh memcached-tool "
    "sqlplus rman lsnrctl srvctl crsctl asmcmd dgmgrl expdp impdp tnsping sqlcmd bcp "
    "clickhouse-client clickhouse clickhouse-backup mysqlsh pt-kill pt-online-schema-change "
    "gh-ost orchestrator-client pgbouncer kcat kafkacat pulsar-admin nats-server "
    "ceph rados rbd radosgw-admin ceph-volume cephadm gluster drbdadm pcs crm "
    "gitlab-ctl gitlab-rake gitlab-rails gitlab-psql gitlab-backup gitaly "
    "mc restic borg kopia duplicity s3cmd b2 "
    "socat keepalived rndc named-checkconf postqueue postsuper postfix doveadm exim "
    "fail2ban-client wg wg-quick tailscale step cfssl nmcli resolvectl chronyc ntpq "
    "vgchange lvremove pvcreate vgextend xfs_growfs growpart e2fsck btrfs iscsiadm exportfs "
    "pvremove vgremove vgcreate lvresize lvreduce pvmove vgreduce pvscan vgscan lvscan "
    "pvdisplay vgdisplay lvdisplay zookeeper-shell zookeeper-shell.sh "
    "ldapsearch ldapmodify kinit klist realm sssctl a2ensite a2dissite a2enmod "
    "celery gunicorn uwsgi pumactl passenger-status tctl temporal argo tkn skaffold "
    # source control and CI
    "git gh glab hub svn gpg cosign jq yq xq envsubst sops age"
)

#: Windows programs people type at `cmd` or PowerShell prompts (also as `sc.exe`)
WINDOWS = word_set(
    "sc net netsh ipconfig robocopy xcopy del copy dir reg wmic schtasks tasklist taskkill "
    "certutil icacls dism sfc chkdsk bcdedit iisreset diskpart wevtutil gpupdate gpresult "
    "winrm setspn nltest dcdiag repadmin klist w32tm msiexec powershell pwsh cmd"
)

#: everyday Unix programs
UNIX = word_set(
    "ls cd pwd cat tac less more head tail grep egrep fgrep rg ag find locate xargs sed awk cut "
    "sort uniq wc tr tee diff cmp comm paste join split fold column nl od xxd hexdump strings "
    "file stat touch mkdir rmdir rm cp mv ln chmod chown chgrp install tar gzip gunzip zcat bzip2 "
    "xz unxz zip unzip 7z base64 md5sum sha1sum sha256sum cksum date cal sleep watch timeout "
    "time env printenv which whereis type whoami id groups who w last su sudo doas passwd "
    "useradd usermod userdel groupadd visudo crontab at nohup nice renice kill pkill killall "
    "pgrep ps pstree pidof strace ltrace gdb perf lscpu lspci lsusb uname hostname nproc "
    "vi vim nano emacs ed tmux screen clear reset history man info tree realpath dirname "
    "basename mktemp shred truncate dd wipefs sync seq yes true false test expr bc dc "
    "openssl sha512sum readlink logger wall mail sendmail printf echo tput stty sh bash zsh "
    "dash ksh fish csh tcsh bat fd fzf ncdu iotop nethogs iftop"
)

#: bash builtins and keywords (also the first word of a command)
BUILTINS = word_set(
    "alias bg bind break builtin caller case command compgen complete continue declare dirs "
    "disown do done echo elif else enable esac eval exec exit export fc fg fi for function "
    "getopts hash help if in jobs let local logout mapfile popd printf pushd read readarray "
    "readonly return select set shift shopt source suspend then times trap type typeset ulimit "
    "umask unalias unset until wait while . : [ [[ !"
)

KNOWN_COMMANDS = OPS_TOOLS | UNIX | BUILTINS | WINDOWS

#: commands that print nothing when they work: a line right after one, with no prompt, is
#: more likely a command whose prompt the author forgot than output
SILENT = word_set(
    "cd export mkdir cp mv ln source . set unset alias pushd popd touch chmod chown umask "
    "git-checkout"
)

# -- prose right before a block --------------------------------------------------------------

#: the paragraph before promises output (the block shows what a command prints)
OUTPUT_CUES = lazyre.compile(
    r"(?:\b(?:example|sample|expected|typical)\s+(?:output|response|result|reply|answer)"
    r"|\b(?:the|an?)\s+answer\b.*:\s*$|\bwhat\s+to\s+look\s+(?:at|for)\b"
    r"|\boutput\s*(?:looks?|should|will|is|similar|like)|\b(?:the|its|an?)\s+output\b"
    r"|\byou\s+(?:should|will|would|may|might|can)\s+(?:now\s+)?(?:see|get|receive|notice)"
    r"|\b(?:should|will|would)\s+(?:now\s+)?(?:show|display|print|return|output|respond|look)"
    r"|\b(?:returns?|prints?|displays?|outputs?|shows?|produces?)\s*(?:something\s+)?"
    r"(?:like|similar|:|$)"
    r"|\bresult\s+(?:looks|should|is|will)|\blooks?\s+(?:like|similar)\b"
    r"|\bresponse\b.*:?\s*$|\boutput\b\s*:?\s*$|\bresult\s*:?\s*$|\berror\b[^,]*:\s*$"
    r"|\blog(?:s| lines| entries)?\b(?!\s+(?:in|on|into|onto)\b).*:\s*$"
    r"|\bsymptoms?\b|\bmessage\b.*:\s*$"
    # what a check should come back with, ending the sentence: "Expected:", "It should say:",
    # "You get:", "Healthy:", "Look for:" ("it will list the pods:" asks to run something)
    r"|\bexpected\s*:?\s*$|\b(?:should|will|would|must)\s+(?:now\s+)?(?:say|read|be|contain"
    r"|include|report|answer|match|come\s+back(?:\s+with)?)\s*(?:something\s+)?(?:like"
    r"(?:\s+this)?)?\s*:?\s*$|\byou(?:'ll|\s+will|\s+should)?\s+get(?:\s+back)?\s*"
    r"(?:something\s+like(?:\s+this)?)?\s*:?\s*$|\bcomes?\s+back(?:\s+with)?\s*:?\s*$"
    r"|\banswers?\s+with\s*:?\s*$|\b(?:the\s+)?repl(?:y|ies)\b.*:\s*$|\b(?:says?|reads)\s*:?\s*$"
    r"|\blook\s+for\s*:?\s*$|^(?:good|bad|healthy|unhealthy|broken|on\s+success|on\s+failure"
    r"|if\s+all\s+is\s+well|when\s+it\s+works)\s*:\s*$)",
    re.IGNORECASE,
)
#: the paragraph before asks the reader to type or run something
COMMAND_CUES = lazyre.compile(
    r"(?:\b(?:run|execute|type|enter|issue|invoke|launch|paste)\b"
    r"|\buse\s+(?:the\s+)?(?:following|this|these)\b|\b(?:following|this)\s+commands?\b"
    r"|\bcommands?\s*:?\s*$|\bwith\s*:\s*$|\bas\s+follows\b|\bon\s+the\s+\w+\s*(?:host|node|"
    r"server|machine)\b.*:\s*$|\bconnect\b|\brestart\b|\bcheck\b|\bverify\b|\bdelete\b|\bscale\b"
    r"|\bremove\b|\binstall\b|\bcreate\b|\bstop\b|\bstart\b)",
    re.IGNORECASE,
)
#: prose that describes configuration or a file to write, not something to run
DATA_CUES = lazyre.compile(
    r"(?:\b(?:config(?:uration)?|manifest|snippet|settings|values|contents?|template"
    r"|definition|payload|body|schema)\b.*(?::\s*$|\blike\b|\bfollowing\b)"
    r"|\b(?:in|to|into)\s+(?:the\s+|a\s+)?(?:\S+\s+)?(?:file|config)\b.*:\s*$"
    r"|\badd\b.*\b(?:to|in)\b.*(?:file|config)|\bcreate\s+(?:a\s+)?(?:file|manifest)"
    r"|\bsave\s+(?:it|this|them|the\s+following)\s+(?:as|to|in)\b"
    r"|\b(?:add|put|append|insert|paste)\b.*\b(?:to|in|into)\s+\S*/\S+"
    r"|\b(?:keep|have)\b.*\bin\s+(?:the|your)\s+(?:profile|config|\.\w+)"
    r"|\b(?:lives?|is|are|goes|go|belongs?)\s+in\s+`?\S*/\S+"
    r"|\b(?:skeleton|template|boilerplate)\b|\bwrite\s+it\s+as\b"
    r"|\b(?:put|add|append|insert)\s+(?:this|these|the\s+following)\s+(?:lines?\s+)?"
    r"(?:in|into|to)\b(?!\s+(?:the\s+|a\s+|your\s+)?(?:terminal|shell|console|prompt)))",
    re.IGNORECASE,
)

# -- fence tags -------------------------------------------------------------------------------

#: how a fence tag leans: (reading, weight); tags not listed are neutral
TAG_LEAN: dict[str, tuple[str, float]] = {
    **{t: ("commands", 2.0) for t in ("bash", "sh", "shell", "zsh", "ksh", "fish", "terminal")},
    **{t: ("commands", 1.0) for t in ("console", "shell-session", "shellsession", "shellscript")},
    **{t: ("output", 2.5) for t in ("text", "txt", "output", "log", "logs", "plaintext",
                                     "plain", "stdout", "stderr", "nohighlight", "none", "raw")},
    **{t: ("data", 3.0) for t in ("json", "json5", "jsonc", "yaml", "yml", "toml", "ini", "conf",
                                   "cfg", "config", "properties", "env", "dotenv", "xml", "html",
                                   "hcl", "tf", "terraform", "nginx", "apache", "apacheconf",
                                   "dockerfile", "docker", "csv", "tsv", "diff", "patch",
                                   "promql", "logql", "graphql", "proto", "protobuf",
                                   "systemd", "cron", "crontab", "caddyfile", "make", "makefile",
                                   "rego", "cue", "jsonnet", "ssh-config", "sshconfig")},
    **{t: ("prose", 3.0) for t in ("mermaid", "plantuml", "dot", "graphviz", "ascii", "diagram",
                                    "markdown", "md", "rst", "asciidoc")},
}

#: fence tags of runnable languages other than shell -> the reader that splits them
LANGUAGE_OF: dict[str, str] = {
    **{t: "sql" for t in ("sql", "psql", "postgresql", "postgres", "pgsql", "plpgsql", "mysql",
                          "mariadb", "sqlite", "sqlite3", "tsql", "mssql", "plsql", "cql", "hql")},
    **{t: "powershell" for t in ("powershell", "pwsh", "ps1", "ps", "posh", "pwsh-session",
                                  "ps1con", "powershell-session")},
    **{t: "javascript" for t in ("javascript", "js", "mongo", "mongosh", "mongodb", "node",
                                  "typescript", "ts")},
    **{t: "python" for t in ("python", "python3", "py", "pycon", "ipython", "python-repl")},
    **{t: "redis" for t in ("redis", "redis-cli", "valkey")},
    **{t: "cmd" for t in ("bat", "cmd", "batch", "dos", "winbatch", "doscon")},
    **{t: "ruby" for t in ("ruby", "rb", "irb", "rails")},
    **{t: "http" for t in ("http", "rest", "kibana", "es", "restclient")},
}

#: fence tag -> the database client its statements are fed to
CLIENT_OF_TAG: dict[str, str] = {
    "psql": "psql", "postgresql": "psql", "postgres": "psql", "pgsql": "psql", "plpgsql": "psql",
    "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite3", "sqlite3": "sqlite3",
    "redis": "redis-cli", "redis-cli": "redis-cli", "valkey": "redis-cli",
    "mongo": "mongosh", "mongosh": "mongosh", "mongodb": "mongosh",
}
