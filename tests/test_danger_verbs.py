"""Danger round 5 (issue 9): verbs in every shape a name takes (compounds, camelCase methods,
options of tools with rows, actions in URLs and bodies) and the rows they needed."""

from __future__ import annotations

import pytest

from runbook_engine.danger import danger_reasons

# (language, code, a phrase the reason must contain)
FIRES: list[tuple[str, str, str]] = [
    # compounds: hyphen, underscore, camelCase; the verb in either place
    ("bash", "xe host-evacuate host=xcp-h3", "xe host-evacuate may stop"),
    ("bash", "xe pbd-unplug uuid=3f1c", "xe pbd-unplug may stop"),
    ("bash", "xe sr-forget uuid=3f1c", "xe sr-forget may delete"),
    ("bash", "celery -A shop control cancel_consumer emails", "cancel_consumer may stop"),
    ("bash", "jamf removeFramework", "jamf removeFramework may delete"),
    ("bash", "pcs node standby db-b", "pcs node standby may stop"),
    ("bash", "pcs stonith fence db-b", "pcs stonith fence may stop"),
    # a tool with rows: a verb no row names, whole or first in a compound
    ("bash", "kubectl cnpg promote pg-main pg-main-2", "kubectl cnpg promote may reset"),
    ("bash", "argocd app terminate-op payments", "argocd app terminate-op may stop"),
    ("bash", "flux suspend helmrelease ingest -n data", "flux suspend may stop"),
    ("bash", "service nginx onestop", "service nginx onestop stops a service"),
    # a tool with rows: an option no row names
    ("bash", "argocd app sync payments --prune", "argocd app sync --prune may delete"),
    ("bash", "docker swarm init --force-new-cluster", "--force-new-cluster may reset"),
    ("bash", "drbdadm connect --discard-my-data r0", "--discard-my-data may reset"),
    # rows
    ("bash", "sudo sgdisk -R /dev/sdb /dev/sda", "sgdisk rewrites a disk's partition table"),
    ("bash", "mdadm --assemble --force /dev/md0 /dev/sda1", "--assemble --force builds"),
    # the action in a URL's query, even on a GET; a body whose command deletes
    ("bash", 'curl -s "http://solr:8983/solr/admin/collections?action=DELETE&name=p6"',
     "curl calls an admin action that deletes or stops"),
    ("bash", 'curl "http://solr:8983/solr/admin/collections?action=DELETEREPLICA&shard=s2"',
     "admin action"),
    ("bash", 'curl -u a:b "http://tc:8080/manager/text/undeploy?path=/legacy"', "admin action"),
    ("bash", "curl -X POST http://solr:8983/solr/p7/update -d '{\"delete\": {\"query\": \"x\"}}'",
     "changes state"),
    # console and SDK calls named for what they do
    ("javascript", 'dba.rebootClusterFromCompleteOutage("prod")', ".rebootCluster"),
    ("javascript", "cluster.dissolve({force: true})", ".dissolve()"),
    ("javascript", 'cluster.forceQuorumUsingPartitionOf("a:3306")', ".forceQuorum"),
    ("javascript", "device.unenroll()", ".unenroll()"),
    ("python", "client.stop()", ".stop()"),
    # taught by the held-out batch (round 5b): IBM's verb-first names, MQSC, action values in
    # camelCase, compounds after a single dash, deep `clean`, a rollback no row names
    ("bash", "endmqm -i QMPROD1", "endmqm may stop"),
    ("bash", "dltmqm QMTEST9", "dltmqm may delete"),
    ("bash", 'echo "DELETE QLOCAL(ORDERS.TMP) PURGE" | runmqsc QMPROD1', "MQSC DELETE QLOCAL"),
    ("mqsc", "STOP CHANNEL(TO.LEGACY.QM)", "MQSC STOP CHANNEL"),
    ("bash", "sapcontrol -nr 10 -function StopSystem ALL", "-function StopSystem may stop"),
    ("bash", "hdbnsutil -sr_takeover", "hdbnsutil takes over as primary"),
    ("bash", "hdbnsutil -sr_disable", "removes system replication"),
    ("bash", "tool -sr_disable", "tool -sr_disable may stop"),
    ("bash", "sudo puppetserver ca clean --certname app-14", "puppetserver ca clean may delete"),
    ("bash", "airflow db clean --clean-before-timestamp 2024-01-01 --yes", "db clean may delete"),
    ("bash", "sudo salt-key -d 'app-old-14*' -y", "salt-key -d (--delete)"),
    ("bash", "manage-bde -off D:", "manage-bde -off (--disable)"),
    ("bash", "heroku rollback v231 -a shop-prod", "heroku rollback may reset"),
    ("bash", "heroku ps:scale worker=0 -a shop-prod", "heroku ps:scale worker 0 may stop"),
    ("bash", "gluster peer detach gfs3", "gluster peer detach removes a server"),
    ("bash", "lbctl pool detach web-3", "lbctl pool detach may stop"),
    ("powershell", "Move-ClusterGroup -Name SQL -Node SQLN1", "fails a clustered role over"),
]

QUIET: list[tuple[str, str]] = [
    ("bash", "atlas backups snapshots create s0 --desc \"before pause\""),
    ("bash", "git fetch --prune"),
    ("bash", "ceph osd out osd.7"),  # marked out, data copied elsewhere; `ceph osd in` undoes it
    ("bash", "docker run --rm alpine true"),
    ("bash", "kubectl rollout pause deploy/web"),
    ("bash", "flux resume helmrelease ingest -n data"),
    ("bash", "systemctl reset-failed"),
    ("bash", "sudo sgdisk -G /dev/sdb"),
    ("bash", "sudo mdadm --assemble --scan"),
    ("bash", 'curl -s "http://solr:8983/solr/admin/collections?action=CLUSTERSTATUS"'),
    ("bash", 'curl -s "http://loki:3100/loki/api/v1/delete" | jq .'),
    ("javascript", "cluster.status()"),
    ("bash", "strmqm QMPROD1"),
    ("bash", 'echo "DISPLAY CHSTATUS(*)" | runmqsc QMPROD1'),
    ("bash", "sapcontrol -nr 00 -function RestartInstance"),
    ("bash", "hdbnsutil -sr_state"),
    ("bash", "apt-get clean"),
    ("bash", "yum clean all"),
    ("bash", "make clean"),
    ("bash", "vault kv rollback -mount=secret -version=6 apps/billing/db"),
    ("bash", "gluster volume remove-brick gv replica 2 gfs3:/bricks/b2 status"),
    ("bash", "aws autoscaling detach-instances --instance-ids i-1 --auto-scaling-group-name a"),
    ("bash", "heroku ps:scale worker=2 -a shop-prod"),
    ("python", "timer.stopwatch()"),
]


@pytest.mark.parametrize(("lang", "code", "phrase"), FIRES, ids=[c[1][:50] for c in FIRES])
def test_the_verb_is_found_in_its_shape(lang: str, code: str, phrase: str) -> None:
    reasons = danger_reasons(code, lang)
    assert any(phrase in reason for reason in reasons), reasons


@pytest.mark.parametrize(("lang", "code"), QUIET, ids=[c[1][:50] for c in QUIET])
def test_look_alikes_stay_quiet(lang: str, code: str) -> None:
    assert danger_reasons(code, lang) == []


@pytest.mark.parametrize(("code", "lang"), [
    ("kcadm.sh update users/91aa -r partners -s enabled=false", "bash"),
    ("Set-DhcpServerv4Scope -ComputerName DC01 -ScopeId 10.30.0.0 -State InActive", "powershell"),
    ("delete volume=Full-0017 yes", "console"),  # a console's verb, not lower-case SQL
])
def test_switching_off_and_console_verbs(code: str, lang: str) -> None:
    assert danger_reasons(code, lang)


@pytest.mark.parametrize(("code", "lang"), [
    ("kcadm.sh update users/91aa -r partners -s enabled=true", "bash"),
    ("Set-DhcpServerv4Scope -ComputerName DC01 -ScopeId 10.30.0.0 -State Active", "powershell"),
])
def test_switching_on_stays_quiet(code: str, lang: str) -> None:
    assert danger_reasons(code, lang) == []
