"""How tools' command lines read: options that take values, and commands that run commands.

- ``GRAMMARS``: per tool, the options that take a value (so ``kubectl -n prod delete`` finds
  ``delete`` after the namespace), whether ``-rf`` is two flags, and how scope is named;
- ``WRAPPERS``: commands that run another command (``sudo``, ``ssh host '...'``, ``sh -c``,
  ``psql -c 'SQL'``) and where that command starts; ``EXEC_PATHS`` the same for subcommands
  (``docker exec``, ``kubectl exec -- ...``, ``gcloud compute ssh --command``);
- vocabularies: text commands whose arguments never run, destructive words in names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import lazyre


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` (vocabularies are written as one string)."""
    return frozenset(text.split())


# ---------------------------------------------------------------- grammars


@dataclass(frozen=True)
class Grammar:
    """How a tool's arguments read."""

    value_opts: frozenset[str] = frozenset()  # options that take a value (``-n prod``)
    optional_attached: frozenset[str] = frozenset()  # value only when glued (``mysql -psecret``)
    clusters: bool = True  # ``-rf`` is ``-r -f`` (False: ``-delete``, ``-KILL`` are one flag)
    ci: bool = False  # words compare case-insensitively (Windows, PowerShell)
    slash_flags: bool = False  # ``/s`` ``/q`` are flags (Windows commands)
    dry_run: frozenset[str] = frozenset()  # flags that make it a rehearsal
    scope: tuple[tuple[frozenset[str], str], ...] = ()  # (options, " in namespace {}")
    greedy_values: bool = False  # any ``-Name value`` may be a value (PowerShell parameters)


_K8S_VALUES = (
    "-n --namespace --context --cluster --user --kubeconfig -s --server --token --as --as-group "
    "--as-uid --certificate-authority --client-certificate --client-key --cache-dir "
    "--request-timeout --tls-server-name --username --password --profile -v --v --log-dir "
    "--log-file --vmodule -l --selector -o --output -f --filename -c --container "
    "--field-selector --grace-period --timeout --replicas --current-replicas --resource-version "
    "-p --patch --type --image -k --kustomize --chunk-size --sort-by --template -L "
    "--label-columns --cascade --pod-running-timeout --since --tail --since-time --wait-for "
    "--overrides --env --labels --port --restart --prune-allowlist --field-manager"
)
_K8S_SCOPE = ((word_set("-n --namespace"), " in namespace {}"),
              (word_set("--context"), " (context {})"))
_DOCKER_VALUES = (
    "-H --host -c --context --config -l --log-level --tlscacert --tlscert --tlskey -f --filter "
    "--format -e --env --env-file -u --user -w --workdir --detach-keys -p --publish -v --volume "
    "--name --network --net --mount --entrypoint --label --restart -m --memory --cpus "
    "--platform --pull --file --project-name --project-directory --profile --ansi --hostname "
    "--add-host --device --dns --log-driver --log-opt --cap-add --cap-drop --security-opt "
    "--ulimit --tmpfs --shm-size --ipc --pid --userns --gpus --stop-signal --stop-timeout "
    "--link --volumes-from --expose --cidfile --runtime --group-add --label-file --ip --sysctl "
    "--storage-opt --pids-limit --signal --time --timeout"
)
_REDIS_VALUES = (
    "-h -p -s -a -u -n -r -i -d -D -t --user --pass --sni --cacert --cacertdir --cert --key "
    "--tls-ciphers --tls-ciphersuites --pattern --count --rdb --functions-rdb --cluster "
    "--cluster-replicas --memkeys-samples --eval --intrinsic-latency --lru-test"
)
_CURL_VALUES = (
    "-d --data --data-raw --data-binary --data-urlencode --data-ascii --json -F --form "
    "--form-string -H --header -X --request -o --output -u --user -A --user-agent -e --referer "
    "-b --cookie -c --cookie-jar -K --config -m --max-time --connect-timeout -w --write-out -x "
    "--proxy -U --proxy-user -T --upload-file -E --cert --key --cacert --capath --resolve "
    "--retry --retry-delay --retry-max-time -r --range -Y -y -z -C --oauth2-bearer "
    "--aws-sigv4 --unix-socket --interface --limit-rate --max-redirs -Q --quote --noproxy "
    "--pass --proxy-header --cert-type --key-type --ciphers --dns-servers --local-port "
    "--variable --url-query -t -P --url"
)
_SQL_CLIENT_VALUES = (
    "-h --host -p --port -P -U --username -u --user -d --dbname -D --database -c --command "
    "-e --execute -f --file -v --set --variable -o --output -L --log-file -F -R -T -S --socket "
    "--default-character-set --defaults-file --defaults-extra-file --login-path --ssl-ca "
    "--ssl-cert --ssl-key --protocol --init-command --connect-timeout -q --query --eval "
    "--authenticationDatabase --password"
)


def _grammars() -> dict[str, Grammar]:
    table: dict[str, Grammar] = {}

    def add(names: str, **kwargs: object) -> None:
        for key in ("value_opts", "optional_attached", "dry_run"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = word_set(kwargs[key])  # type: ignore[arg-type]
        grammar = Grammar(**kwargs)  # type: ignore[arg-type]
        for name in names.split():
            table[name] = grammar

    add("kubectl oc", value_opts=_K8S_VALUES, scope=_K8S_SCOPE, dry_run="--dry-run")
    add("helm", value_opts="-n --namespace --kube-context --kubeconfig --kube-apiserver "
        "--kube-as-user --kube-as-group --kube-ca-file --kube-token --registry-config "
        "--repository-cache --repository-config --burst-limit --qps --timeout -f --values --set "
        "--set-string --set-file --set-json --version --description -o --output --repo "
        "--username --password --ca-file --cert-file --key-file --cascade --max --revision "
        "--filter -l --selector --post-renderer",
        scope=((word_set("-n --namespace"), " in namespace {}"),
               (word_set("--kube-context"), " (context {})")), dry_run="--dry-run")
    add("docker podman nerdctl docker-compose podman-compose", value_opts=_DOCKER_VALUES,
        scope=((word_set("-H --host"), " on {}"), (word_set("-c --context"), " (context {})")))
    add("crictl ctr", value_opts="-r --runtime-endpoint -i --image-endpoint -n --namespace "
        "--timeout -c --config")
    add("git", value_opts="-C -c --git-dir --work-tree --namespace --exec-path --config-env "
        "--super-prefix -m --message -F -o --push-option --repo --recurse-submodules",
        dry_run="-n --dry-run")
    add("aws", value_opts="--profile --region --output --query --endpoint-url "
        "--cli-read-timeout --cli-connect-timeout --ca-bundle --color --cli-binary-format "
        "--desired-count --desired-capacity --min-size --max-size",
        scope=((word_set("--region"), " in {}"), (word_set("--profile"), " (profile {})")),
        dry_run="--dryrun --dry-run")
    add("gcloud gsutil", value_opts="--project --account --configuration --format --verbosity "
        "--zone --region --flags-file --impersonate-service-account --billing-project --filter "
        "--limit --sort-by --page-size --num-nodes --size -o",
        scope=((word_set("--project"), " in project {}"),))
    add("az", value_opts="-g --resource-group -n --name --subscription -o --output --query "
        "-l --location --ids --node-count --count --instance-count --replicas --cluster-name",
        scope=((word_set("-g --resource-group"), " in resource group {}"),
               (word_set("--subscription"), " (subscription {})")))
    add("kadmin kadmin.local", value_opts="-q -p -k -r -s -w -c -d -e -x -t")
    add("hdfs hadoop", clusters=False, value_opts="-D -conf -fs -jt -files -libjars")
    add("ipmitool", value_opts="-H -U -P -I -p -L -f -k -y -t -b -T -B -C -N -R -o -O -c")
    add("terraform tofu terragrunt", clusters=False, value_opts="-chdir -var -var-file -target "
        "-state -lock-timeout -parallelism -replace")
    add("systemctl", value_opts="-H --host -M --machine -t --type -s --signal -p --property "
        "-n --lines -o --output --state --root --kill-whom --job-mode --what",
        scope=((word_set("-H --host"), " on {}"),))
    add("redis-cli", value_opts=_REDIS_VALUES, ci=True,
        scope=((word_set("-h"), " on {}"), (word_set("-n"), " (database {})")))
    add("psql mysql mariadb sqlite3 mongo mongosh clickhouse-client cqlsh sqlcmd",
        value_opts=_SQL_CLIENT_VALUES, optional_attached="-p")
    add("pg_restore mongorestore mysqlimport", value_opts="-d --dbname -h --host -p --port -U "
        "--username -j --jobs -n --schema -t --table -f --file -F --format --uri --db "
        "--nsInclude --archive --gzip")
    add("curl", value_opts=_CURL_VALUES)
    add("gh glab", value_opts="-X --method -H --header -f --field -F --raw-field --input -q "
        "--jq -t --template -R --repo --hostname -p --preview")
    add("nginx", value_opts="-s -c -p -g -e")
    add("apachectl apache2ctl httpd", value_opts="-k -f -d -C -c")
    add("mysqladmin", value_opts="-u --user -h --host -P --port -S --socket",
        optional_attached="-p")
    add("pg_ctl", value_opts="-D --pgdata -m --mode -l --log -o --options -t --timeout")
    add("patronictl", value_opts="-c --config-file -k --dcs-url")
    add("restic", value_opts="-r --repo --repository-file --password-file -p --cache-dir "
        "--tag --host --target --include --exclude -o --option")
    add("zkCli.sh zkcli zookeeper-shell", clusters=False, value_opts="-server -timeout")
    add("GET POST PUT PATCH DELETE PURGE", value_opts="--body")  # request lines and their bodies
    add("zpool", dry_run="-n")  # zfs destroy -nv prints what would go
    add("ansible", value_opts="-i --inventory -m --module-name -u --user -e --extra-vars -f "
        "--forks -l --limit -t --tree --become-user --become-method -c --connection "
        "--private-key -a --args")
    add("kafka-configs kafka-configs.sh kafka-topics kafka-topics.sh kafka-consumer-groups "
        "kafka-consumer-groups.sh", value_opts="--bootstrap-server --command-config "
        "--entity-type --entity-name --add-config --delete-config --topic --group --partitions "
        "--replication-factor --config --zookeeper --to-datetime --to-offset --shift-by")
    add("wget", value_opts="--method --body-data --body-file --post-data --post-file --header "
        "-O -o -a -P --user --password -U -t -T -e --output-document --output-file")
    add("http https xh xhs", ci=True, value_opts="-a --auth -A --auth-type --session "
        "--session-read-only --verify --cert --cert-key --proxy -o --output --timeout "
        "--max-redirects --pretty -s --style -p --print --format-options --boundary")
    add("kill", clusters=False, value_opts="-s --signal -n")
    add("pkill killall pgrep", clusters=False, value_opts="-s --signal -u -U -g -G -P -t -F "
        "--euid --uid --group --parent --terminal --pidfile")
    add("find", clusters=False, value_opts="-name -iname -path -ipath -type -mtime -mmin "
        "-atime -ctime -size -user -group -perm -newer -maxdepth -mindepth -regex -iregex "
        "-wholename -printf -fprint")
    add("rsync", value_opts="-e --rsh --exclude --include --exclude-from --include-from "
        "--files-from --filter --chmod --chown --rsync-path --password-file --log-file "
        "--bwlimit --timeout --port -B --block-size --max-size --min-size --backup-dir "
        "--suffix --temp-dir -T --partial-dir --compare-dest --copy-dest --link-dest "
        "--out-format --info --debug", dry_run="-n --dry-run")
    add("apt apt-get aptitude", value_opts="-o --option -c --config-file -t --target-release",
        dry_run="-s --simulate --just-print --dry-run --recon --no-act")
    add("yum dnf microdnf zypper", value_opts="-c --config --enablerepo --disablerepo "
        "--setopt --installroot")
    add("vault consul nomad", clusters=False, value_opts="-address -namespace -token -mount "
        "-region -ca-cert -http-addr")
    add("etcdctl", value_opts="--endpoints --cacert --cert --key --user --password "
        "--dial-timeout --command-timeout -w --write-out --data-dir")
    add("nodetool", value_opts="-h --host -p --port -u --username -pw --password -pwf")
    add("ceph rbd rados radosgw-admin", value_opts="-c --conf -n --name --id -k --keyring "
        "--cluster -p --pool -f --format")
    add("rabbitmqctl rabbitmq-plugins rabbitmqadmin", value_opts="-n --node -p --vhost -q "
        "-t --timeout -H --host -P --port -u --username --password")
    add("pm2", value_opts="--name -i --instances --namespace")
    add("mc mcli", value_opts="-C --config-dir --expire-days --expiry-days --prefix --older-than "
        "--newer-than --rewind --versions --exclude --storage-class --noncurrent-expire-days")
    add("supervisorctl", value_opts="-c --configuration -s --serverurl -u --username "
        "-p --password")
    add("ip", value_opts="-n -netns -f -family -b -batch -rc -rcvbuf")
    add("iscsiadm", value_opts="-m --mode -o --op -T --targetname -p --portal -I --interface "
        "-n --name -v --value -t --type -r --sid")
    add("chage usermod", value_opts="-E -e --expiredate -d --lastday -I --inactive -m "
        "--mindays -M --maxdays -W --warndays -g --gid -G --groups -s --shell -c --comment "
        "-l --login -u --uid -R --root -P --prefix")
    add("vgchange lvchange", value_opts="-a --activate -A --autobackup --addtag --deltag")
    add("zfs", dry_run="-n", value_opts="-o -t -s -S -d")
    add("nmcli", value_opts="-f --fields -e --escape -c --colors -w --wait")
    add("shutdown reboot poweroff halt", slash_flags=True, value_opts="/t /c /m /d")
    add("manage-bde", clusters=False, ci=True, value_opts="-cn -computername -type -t")
    add("hdbnsutil", clusters=False)
    add("del erase rd rmdir format robocopy taskkill schtasks sc net reg bcdedit vssadmin wmic "
        "cipher wevtutil icacls iisreset", ci=True, slash_flags=True,
        value_opts="/im /pid /fi /t /s /u /p")
    return table


GRAMMARS: dict[str, Grammar] = _grammars()
POWERSHELL_GRAMMAR = Grammar(clusters=False, ci=True, dry_run=word_set("-whatif"),
                             greedy_values=True)
#: options that size a group of machines or replicas (``tool scale ... --node-count 0``)
_SCALE_OPTIONS = ("--replicas --node-count --count --desired-count --desired-capacity --num-nodes "
                  "--instance-count --nodes --instances --size")
#: a tool we know nothing about: only options named for an action take the next word
#: (``--action STOP``), so any other word after an option may still be a subcommand
DEFAULT_GRAMMAR = Grammar(value_opts=word_set(
    "--action --op --operation --power --power-state --power-action -function --function "
    + _SCALE_OPTIONS))
#: long options that make any command a rehearsal (``--dry-run=client`` too; ``=none`` is real)
DRY_RUN_FLAGS = word_set("--dry-run --dryrun --what-if -whatif --simulate --noop --check")


# ---------------------------------------------------------------- wrappers

#: shell keywords that come before a command (``if rm -rf x; then ...``, ``! grep``, ``{ ...; }``)
SHELL_KEYWORDS = word_set("then do else elif if while until ! { }")


@dataclass(frozen=True)
class Wrapper:
    """A command that runs another one: where that command starts and in which language."""

    value_opts: frozenset[str] = frozenset()
    skip: int = 0  # positionals before the command (``timeout 30``, ``chroot DIR``, ``ssh HOST``)
    mode: str = "argv"  # argv: the rest is a command; string: the rest is code; none: only -c
    lang: str = "shell"  # language of code strings and of what is fed on stdin
    code_opts: frozenset[str] = frozenset()  # options whose value is code (``-c``, ``--eval``)
    module_opt: str = ""  # ``python -m pip ...``: the value names the command
    after_dashdash: bool = False  # the command is only what follows ``--``
    stop_at: frozenset[str] = frozenset()  # the command ends at these words (``:::``)
    transparent: bool = False  # same host and shell: liveness sees through it (sudo, env, nice)
    exec_flags: frozenset[str] = frozenset()  # the command follows one of these (find -exec)
    code_rest: bool = False  # a code option takes the rest of the line (cmd /c sc delete x)
    clusters: bool = True


def _wrappers() -> dict[str, Wrapper]:
    table: dict[str, Wrapper] = {}

    def add(names: str, **kwargs: object) -> None:
        for key in ("value_opts", "code_opts", "stop_at", "exec_flags"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = word_set(kwargs[key])  # type: ignore[arg-type]
        wrapper = Wrapper(**kwargs)  # type: ignore[arg-type]
        for name in names.split():
            table[name] = wrapper

    # transparent prefixes: the command runs here, as written
    add("sudo", transparent=True, value_opts="-u --user -g --group -h --host -p --prompt -C "
        "--close-from -D --chdir -r --role -t --type -T --command-timeout -U --other-user")
    add("doas", transparent=True, value_opts="-u -C")
    add("env", transparent=True, value_opts="-u --unset -C --chdir", code_opts="-S "
        "--split-string")
    add("nice", transparent=True, value_opts="-n --adjustment")
    add("ionice", transparent=True, value_opts="-c --class -n --classdata -p --pid")
    add("time", transparent=True, value_opts="-f --format -o --output")
    add("nohup builtin unbuffer chronic setsid caffeinate torsocks stdbuf exec command",
        transparent=True, value_opts="-a -i -o -e")
    add(" ".join(SHELL_KEYWORDS), transparent=True)
    add("proxychains proxychains4", transparent=True, value_opts="-f")
    add("timeout", transparent=True, skip=1, value_opts="-s --signal -k --kill-after")
    add("xargs", transparent=True, value_opts="-a --arg-file -d --delimiter -E -I -L -n "
        "--max-args -P --max-procs -s --max-chars --process-slot-var --replace")
    add("parallel", transparent=True, stop_at=":::: ::: :::+", value_opts="-j --jobs -S "
        "--sshlogin --sshloginfile -a --arg-file --colsep -d --delimiter -I --joblog "
        "--results --tmpdir --timeout --delay --retries -L -N -n -P --halt --memfree --load "
        "--tagstring --workdir --basefile --env")
    add("chroot", skip=1, value_opts="--userspec --groups")
    add("gosu su-exec s6-setuidgid", skip=1)
    add("chpst", value_opts="-u -U -e -n -l -L -m -d -o -p -f -c")
    add("taskset", skip=1, value_opts="")
    add("numactl", value_opts="-N -C -m -p -i --cpunodebind --membind --physcpubind "
        "--preferred --interleave")
    add("systemd-run", value_opts="-u --unit -p --property -M --machine -H --host "
        "--description --slice -E --setenv --uid --gid --nice --working-directory "
        "--on-active --on-calendar --service-type")
    add("nsenter", value_opts="-t --target -S --setuid -G --setgid --wd")
    add("strace ltrace", value_opts="-e -o -p -s -u -E -a -b -I -O -S -P -X")
    add("sshpass", value_opts="-p -f -d -P")
    add("flock", skip=1, value_opts="-w --timeout -E --conflict-exit-code",
        code_opts="-c --command")
    add("find", mode="none", exec_flags="-exec -execdir -ok -okdir", stop_at="; +", clusters=False)
    add("watch", mode="string", value_opts="-n --interval")
    add("eval", mode="string")
    # other hosts, other users, other shells
    add("ssh", skip=1, mode="string", value_opts="-b -B -c -D -E -e -F -I -i -J -L -l -m -O "
        "-o -p -Q -R -S -W -w")
    add("pssh parallel-ssh", mode="string", value_opts="-h --hosts -H --host -l --user -p "
        "--par -o --outdir -e --errdir -t --timeout -O --option -x --extra-args -X --extra-arg")
    add("pdsh", mode="string", value_opts="-w -x -l -t -u -f -R -g -X")
    add("clush", mode="string", value_opts="-w -x -g -X -l -f -t -u -o -O --worker")
    add("su", mode="none", code_opts="-c --command", value_opts="-s --shell -g -G -w")
    add("runuser", after_dashdash=True, code_opts="-c --command", value_opts="-u --user -g "
        "--group -G --supp-group -s --shell -w")
    add("sg", skip=1, mode="string")
    add("script", mode="none", code_opts="-c --command", value_opts="-t -T -I -O -B -E")
    add("sh bash zsh dash ksh ash busybox", code_opts="-c", value_opts="-o -O --rcfile "
        "--init-file")
    add("pwsh powershell powershell.exe pwsh.exe", mode="none", lang="powershell",
        code_opts="-c -command -encodedcommand", clusters=False)
    add("cmd cmd.exe", mode="none", lang="cmd", code_opts="/c /k", code_rest=True)
    add("java", module_opt="-jar", value_opts="-cp -classpath --class-path -p --module-path "
        "--add-opens --add-exports", clusters=False)
    add("python python3 python2", module_opt="-m", lang="python", code_opts="-c",
        value_opts="-W -X")
    add("node nodejs deno bun", lang="js", code_opts="-e --eval -p --print")
    add("ruby", lang="ruby", code_opts="-e")
    add("perl", lang="perl", code_opts="-e -E")
    add("php", lang="php", code_opts="-r")
    add("npx bunx pnpx", value_opts="-p --package", code_opts="-c --call")
    # database clients: code options and what they read on stdin
    for names, lang, opts in (("psql", "sql", "-c --command"),
                              ("mysql mariadb mysqlsh", "sql", "-e --execute"),
                              ("clickhouse-client", "sql", "-q --query"),
                              ("cqlsh", "sql", "-e --execute"),
                              ("sqlcmd", "sql", "-q -Q --query"),
                              ("duckdb usql", "sql", "-c --command"),
                              ("mongo mongosh", "mongo", "--eval")):
        add(names, mode="none", lang=lang, code_opts=opts, value_opts=_SQL_CLIENT_VALUES)
    add("sqlite3 sqlite", mode="string", skip=1, lang="sql", value_opts="-cmd -separator")
    add("cypher-shell", mode="string", lang="sql", value_opts="-a --address -u --username -p "
        "--password -d --database --format -f --file --encryption -P --param")
    add("redis-cli valkey-cli keydb-cli", mode="none", lang="redis", value_opts=_REDIS_VALUES)
    # consoles whose input is SQL-like (SQL*Plus, RMAN) or their own commands (ZooKeeper,
    # diskpart), and raw sockets whose input is a wire protocol (HAProxy's admin socket,
    # memcached, Redis through nc)
    add("sqlplus rman", mode="none", lang="sql", value_opts="-M -R -L")
    add("zkCli.sh zkCli zkcli zookeeper-shell zookeeper-shell.sh", mode="none", lang="zk",
        value_opts="-server -timeout", clusters=False)
    add("diskpart diskpart.exe", mode="none", lang="diskpart", clusters=False)
    add("nsupdate", mode="none", lang="nsupdate", value_opts="-k -y -p -t -u -r -l")
    add("runmqsc", mode="none", lang="mqsc", value_opts="-m -w -x -u")  # IBM MQ's MQSC
    add("ldapmodify ldapadd", mode="none", lang="ldif", clusters=False, value_opts="-H -D -w -y "
        "-b -h -p -f -x -Z -ZZ -o -e -E -P -O -Q -U -R -X -Y")
    add("socat nc ncat netcat telnet", mode="none", lang="wire", value_opts="-w -W -i -q -p -s "
        "-x -X -U")
    return table


WRAPPERS: dict[str, Wrapper] = _wrappers()

#: ``tool subcommand`` -> how the command it runs is found (containers, remote shells, task runners)
EXEC_PATHS: dict[tuple[str, str], Wrapper] = {}


def _exec_paths() -> None:
    docker = word_set(_DOCKER_VALUES)
    k8s = word_set(_K8S_VALUES)
    specs: list[tuple[str, str, Wrapper]] = [
        ("docker podman nerdctl", "exec", Wrapper(docker, skip=1)),
        ("docker podman nerdctl", "run", Wrapper(docker, skip=1)),
        ("docker podman", "compose exec", Wrapper(docker, skip=1)),
        ("docker podman", "compose run", Wrapper(docker, skip=1)),
        ("docker-compose podman-compose", "exec", Wrapper(docker, skip=1)),
        ("docker-compose podman-compose", "run", Wrapper(docker, skip=1)),
        ("crictl", "exec", Wrapper(word_set("-t --timeout"), skip=1)),
        ("kubectl oc", "exec", Wrapper(k8s, skip=1)),
        ("kubectl oc", "run", Wrapper(k8s, after_dashdash=True)),
        ("kubectl oc", "debug", Wrapper(k8s, after_dashdash=True)),
        ("oc", "rsh", Wrapper(k8s | word_set("--shell"), skip=1)),
        ("lxc incus", "exec", Wrapper(word_set("--env --user --group --cwd"), skip=1)),
        ("ip", "netns exec", Wrapper(skip=1)),
        ("gcloud", "compute ssh", Wrapper(word_set("--zone --project --ssh-flag"), mode="none",
                                          code_opts=word_set("--command"))),
        ("az", "vm run-command", Wrapper(word_set("-g --resource-group -n --name --command-id"),
                                         mode="none", code_opts=word_set("--scripts"))),
        ("vagrant", "ssh", Wrapper(mode="none", code_opts=word_set("-c --command"))),
        ("fly flyctl", "ssh console", Wrapper(word_set("-a --app"), mode="none",
                                              code_opts=word_set("-C --command"))),
        ("heroku", "run", Wrapper(word_set("-a --app -r --remote -s --size -e --env"),
                                  mode="string")),
        ("rails", "runner", Wrapper(mode="string", lang="ruby")),
        ("bundle", "exec", Wrapper()),
        ("poetry pipenv uv pdm hatch rye", "run", Wrapper(word_set("--with -p --python"))),
        ("conda mamba micromamba", "run", Wrapper(word_set("-n --name -p --prefix"))),
        ("pnpm yarn npm", "exec", Wrapper(word_set("-c --call"))),
        ("pnpm yarn", "dlx", Wrapper()),
        ("aws-vault", "exec", Wrapper(word_set("-d --duration -t --mfa-token"), skip=1)),
        ("op doppler infisical teller", "run", Wrapper(word_set("--env-file -p --project -c "
                                                           "--config --env"))),
        ("chamber", "exec", Wrapper(skip=1, after_dashdash=True)),
        ("direnv", "exec", Wrapper(skip=1)),
        ("tmux", "send-keys", Wrapper(word_set("-t -N"), mode="string")),
        ("knife", "ssh", Wrapper(word_set("-x --ssh-user -a --attribute"), skip=1, mode="string")),
        ("salt", "* cmd.run", Wrapper(word_set("-t --timeout -b --batch-size --out"),
                                      mode="string")),
        ("ansible", "", Wrapper(word_set("-i --inventory -m --module-name -u --user -e "
                                     "--extra-vars -f --forks -l --limit -t --tree "
                                     "--become-user --become-method -c --connection "
                                     "--private-key"), mode="none",
                                code_opts=word_set("-a --args"))),
        ("nix-shell", "", Wrapper(mode="none", code_opts=word_set("--run --command"))),
    ]
    for tools, path, wrapper in specs:
        for tool in tools.split():
            EXEC_PATHS[(tool, path)] = wrapper


_exec_paths()

#: commands whose arguments are text, never commands: ``echo "DROP TABLE"`` is not SQL that runs
TEXT_COMMANDS = word_set(
    "echo printf grep egrep fgrep zgrep rg ag ack logger man which type help whatis apropos cat "
    "head tail less more sed awk jq yq tee wc sort uniq cut tr wall notify-send write zenity "
    "whiptail dialog read : true false test [ [[ column fold fmt nl rev base64 xxd od hexdump "
    "write-host write-output write-verbose write-warning write-error write-information "
    "out-host out-file select-string get-content echo.exe rem"
)
#: options whose value is a message, a title or a description: never code
MESSAGE_OPTS = word_set("-m --message --msg --title --body --description --desc --comment --reason "
                        "--note --subject --annotation -Message")
#: everyday commands that never get the "verb in a subcommand" fallback (``mkdir reset``)
BENIGN = word_set(
    "ls cd pwd mkdir touch cp mv ln stat file du df free uptime uname whoami id date sleep export "
    "source . set unset alias hostname ping dig nslookup host traceroute tracepath mtr ss "
    "netstat lsof ps top htop iotop vmstat iostat mpstat sar tar gzip gunzip zcat bzip2 xz zip "
    "unzip diff cmp vim vi nano emacs open code xdg-open history clear exit return local "
    "declare typeset readonly let shift wait jobs fg bg disown trap umask ulimit mount "
    "findmnt lsblk blkid dmesg journalctl openssl ssh-keygen ssh-add scp sftp nc ncat telnet "
    "socat tcpdump iftop nload sha256sum sha1sum md5sum cksum realpath dirname basename "
    "readlink mktemp seq yes tput stty locale envsubst gpg age printenv getent groups nproc "
    "lscpu lsmem lspci lsusb sensors tree fzf bat fd exa eza k9s kubectx kubens stern "
    "dive ctop lazydocker lazygit tig last lastb lastlog who w users kdestroy"
)
#: vendor wrappers that run a known tool under another name (GitLab Omnibus, distro builds)
TOOL_ALIASES = {
    "gitlab-psql": "psql", "gitlab-rails": "rails", "gitlab-redis-cli": "redis-cli",
    "gitlab-patronictl": "patronictl", "gitlab-pg-ctl": "pg_ctl", "mariadb-admin": "mysqladmin",
    "pg_ctl.exe": "pg_ctl", "docker.io": "docker", "podman-remote": "podman",
    "kubectl.exe": "kubectl", "oc.exe": "oc", "gitlab-rake": "rake",
}
#: words in script, task and subcommand names that say the thing is destructive
DESTRUCTIVE_WORDS = {
    "delete": word_set("delete destroy purge wipe nuke teardown drop uninstall remove rm rmi erase "
                   "prune shred decommission killall deprovision unregister deregister "
                   "unenroll unprovision"),
    "stop": word_set("stop shutdown halt poweroff reboot kill terminate drain evict down"),
    "reset": word_set("reset restore rollback failover truncate flush flushall flushdb fresh "
                      "downgrade wipeout reinit reinitialize cleanup expunge switchover "
                      "takeover"),
}
#: whole subcommand words that say an unknown tool destroys or stops (``mc rb``, ``s3cmd del``,
#: ``npm unpublish``, ``gh workflow disable``, ``doveadm kick``, ``realm leave``, ``pvesm free``,
#: ``pulsar-admin ... clear-backlog``); unlike the words above they never count as parts of a
#: name (``fix.rb``) or of an option (``--disable-cache``)
SUBCOMMAND_WORDS = {
    "delete": word_set("rb del rmdir unpublish revoke gc free undefine discard abandon retire "
                       "zap obliterate clobber forget dissolve unjoin"),
    "stop": word_set("disable deactivate suspend cancel kick leave offline pause unbind "
                     "disconnect ban demote hibernate standby evacuate unplug fence quiesce "
                     "onestop forcestop faststop quietstop detach"),
    "reset": word_set("clear revert overwrite reimage reformat invalidate promote"),
}
#: subcommand words that destroy only below a first subcommand (``puppetserver ca clean``,
#: ``airflow db clean``; ``apt-get clean``, ``make clean`` and ``yum clean all`` only drop caches
#: or build output)
DEEP_SUBCOMMAND_WORDS = {"clean": "delete"}
#: tool names that end in what they do (``ldapdelete``, Slurm's ``scancel``, LSF's ``bkill``,
#: ``swapoff``, Proxmox's ``qmrestore``, ``Invoke-WsusServerCleanup``): the name is verb-last,
#: so the suffix is the verb
#: tool names that start with an abbreviated verb, IBM's convention (MQ's ``endmqm``, ``dltmqm``;
#: IBM i's ``DLTLIB``, ``CLRPFM``, ``ENDSBS``): three letters, then a short object
NAME_PREFIX_VERBS = {"delete": ("dlt",), "stop": ("end",), "reset": ("clr",)}
#: words of that shape that are no such verb (shell keywords, ``endpoint``, ``delta``)
NOT_PREFIXED_NAMES = frozenset({"endif", "endfor", "endlocal", "endsw", "endfunc", "endpoint",
                                "delta", "rmate", "delve"})
NAME_SUFFIX_VERBS = {"delete": ("delete", "destroy", "purge", "wipe"),
                     "stop": ("kill", "cancel", "off"), "reset": ("restore", "cleanup")}
#: tools whose verbs are options (``conntrack -F``, ``pfctl -k host``, ``ipvsadm -C``): each short
#: option -> its long name in the tool's manual, so the long name is judged like any long option
#: (the ``GENERIC_FLAG_KINDS`` below, or a destructive word in it). A tool listed here needs no
#: rule of its own; one with rules (``iptables -F``) is judged by them.
OPTION_NAMES: dict[str, dict[str, str]] = {
    tool: dict(pair.split("=") for pair in pairs.split())
    for tools, pairs in (
        ("ebtables arptables", "-F=--flush -X=--delete-chain -D=--delete"),
        ("ipset", "-F=--flush -X=--destroy -D=--del"),
        ("ipvsadm", "-C=--clear -D=--delete-service -d=--delete-server"),
        ("conntrack", "-D=--delete -F=--flush"),
        ("pfctl", "-F=--flush -k=--kill -K=--kill-nodes -d=--disable"),
        ("multipath", "-f=--flush -F=--flush-all"),
        ("tarsnap", "-d=--delete"),
        ("smbpasswd", "-x=--delete -d=--disable"),
        ("pdbedit", "-x=--delete"),
        ("exportfs", "-u=--unexport"),
        ("passwd", "-l=--lock -d=--delete -e=--expire"),
        ("iscsiadm", "-u=--logout -U=--logoutall -o=--op"),
        ("arp", "-d=--delete"),
        ("at", "-r=--remove -d=--delete"),
        ("losetup", "-D=--detach-all"),
        ("sysrc", "-x=--remove"),
        ("salt-key", "-d=--delete -D=--delete-all -r=--reject"),
        ("setfattr", "-x=--remove"),
        ("manage-bde", "-off=--disable -pause=--pause -forcerecovery=--lock"),
    )
    for tool in tools.split()
}
#: options whose value is the action (``iscsiadm -o delete``, ``oci ... --action SOFTSTOP``)
ACTION_OPTIONS = DEFAULT_GRAMMAR.value_opts - word_set(_SCALE_OPTIONS)
SCALE_OPTIONS = word_set(_SCALE_OPTIONS)
#: first subcommands of tools with rules that only look destructive (``systemctl reset-failed``
#: clears a unit's failed state; ``git reset`` without ``--hard`` keeps the working tree)
KNOWN_LOOKALIKES = {
    "systemctl": word_set("reset-failed"),
    "git": word_set("reset remote"),
    "brew": word_set("cleanup"),
    "helm": word_set("repo"),
    "pip": word_set("cache"),
    "pip3": word_set("cache"),
    "npm": word_set("cache"),
    "vault": word_set("rollback"),  # vault kv rollback writes an older version as the newest
}
#: options that say a tool with rules deletes, stops or resets, judged when no row of the tool
#: names them (``argocd app sync --prune``, ``docker swarm init --force-new-cluster``,
#: ``etcd --force-new-cluster``, ``drbdadm connect --discard-my-data``)
KNOWN_TOOL_FLAGS = {
    **dict.fromkeys(word_set("--delete --purge --destroy --wipe --prune --zap-all --delete-all "
                             "--remove-all --drop"), "delete"),
    **dict.fromkeys(word_set("--stop --kill --shutdown --terminate --poweroff"), "stop"),
    **dict.fromkeys(word_set("--force-new-cluster --discard-my-data --reset-data --wipe-data"),
                    "reset"),
}
#: such options that are harmless for one tool (``git fetch --prune`` forgets stale remote refs)
KNOWN_FLAG_LOOKALIKES = {"git": word_set("--prune")}
#: words after a subcommand that make it a read-only query (``nodetool removenode status``)
READ_ONLY_OPERANDS = word_set("status")
#: a first subcommand that only reads: what follows is its object (``tool describe delete-policy``,
#: ``tool help delete``, ``tool list --deleted``), so an unknown tool's words are not its verbs
READ_VERBS = word_set("help get list ls show describe view status info inspect explain search "
                      "find lookup version history logs log diff cat print export dump check "
                      "top stat stats watch")
GENERIC_REASONS = {
    "delete": "{cmd} {sub} may delete data or resources: its name says so",
    "stop": "{cmd} {sub} may stop a service or a machine: its name says so",
    "reset": "{cmd} {sub} may reset or overwrite state: its name says so",
}
#: long options that say an unknown tool deletes, stops or resets (``kafka-topics.sh --delete``,
#: ``firewall-cmd --panic-on``, ``iscsiadm --logout``), by the kind of harm
GENERIC_FLAG_KINDS = {
    "delete": word_set("--delete --purge --destroy --wipe --drop --erase --remove "
                       "--zap-all --force-delete --delete-all --revoke --del --delete-chain "
                       "--delete-server --delete-service --unexport --expire"),
    "stop": word_set("--disable --deactivate --kill --kill-nodes --lock --logout --logoutall "
                     "--panic-on --detach-all"),
    "reset": word_set("--reset --reset-offsets --flush --flush-all --clear --truncate "
                      "--force-new-cluster --discard-my-data"),
}
GENERIC_FLAGS = frozenset().union(*GENERIC_FLAG_KINDS.values())
#: HTTP paths whose words say a POST changes or destroys state on an admin API
ADMIN_PATH_WORDS = word_set(
    "wipe reset recover recovery failover force purge drop delete destroy shutdown restart "
    "stop kill truncate clear remove terminate revoke rollback decommission demote promote "
    "evict flushall flushdb erase nuke unsafe step-down stepdown seal force-leave leave drain "
    "disable deregister unregister switchover reinitialize reinit resync rebalance restore "
    "flush close freeze unpublish expire invalidate clean cleanup tombstones cancel abort"
)
#: admin path segments that only look destructive: Elasticsearch's ``_flush`` persists data
ADMIN_PATH_SAFE = word_set("_flush")
#: words in a POST body that say the request accepts losing data (Elasticsearch reroute)
ADMIN_BODY_WORDS = word_set("accept_data_loss allocate_stale_primary allocate_empty_primary")
#: a body whose command is a deletion (Solr's ``{"delete": {"query": ...}}`` or ``<delete>``,
#: a bulk ``{"delete": {...}}`` line, an alias action ``{"remove_index": ...}``)
ADMIN_BODY_KEYS = lazyre.compile(r"[\"'](?:delete|drop|purge|truncate|remove_index)[\"']\s*:|"
                                 r"<delete>", re.IGNORECASE)


#: psql and mysql client meta-commands (``\\dt+``, ``\\c db``, ``\\G``): a backslash word that is
#: none of these is a shell command with its alias bypassed (``\\rm -f``)
PSQL_META = word_set(
    "a c C cd connect conninfo copy copyright crosstabview d da db dc dC dd dD ddp dE de det des "
    "dew dF dFd dFp dFt dg di dl dL dm dn do dO dp dP dPi dPt drds dRp dRs ds dt dT du dv dx dX "
    "dy e echo ef encoding errverbose ev f g gdesc getenv gexec gset gx h H help i include if "
    "elif else endif ir include_relative l list lo_export lo_import lo_list lo_unlink o out p "
    "password print prompt pset q qecho r reset s set setenv sf sv t T timing unset w warn watch "
    "write x z G u ?"
)
#: PowerShell cmdlets with a destructive verb that only touch the session (never flagged)
POWERSHELL_BENIGN = word_set(
    "remove-variable remove-module remove-psdrive remove-pssession remove-job remove-event "
    "remove-typedata remove-psbreakpoint remove-alias remove-cimsession clear-host "
    "clear-variable clear-history stop-transcript stop-job stop-watch disable-psbreakpoint "
    "unregister-event reset-psreadline cls"
)
#: PowerShell aliases for the cmdlets above (in PowerShell, ``rm`` is Remove-Item)
POWERSHELL_ALIASES = {
    "rm": "Remove-Item", "del": "Remove-Item", "erase": "Remove-Item", "rd": "Remove-Item",
    "rmdir": "Remove-Item", "ri": "Remove-Item", "rp": "Remove-ItemProperty",
    "kill": "Stop-Process", "spps": "Stop-Process", "spsv": "Stop-Service",
    "clc": "Clear-Content", "cli": "Clear-Item", "irm": "Invoke-RestMethod",
    "iwr": "Invoke-WebRequest",
}
