"""Tools without rules of their own: verbs that are options (``conntrack -F``, ``firewall-cmd
--panic-on``), verbs glued to their object (``rndc delzone``), kernel control files, and lines
typed at a console whose prompt names it (``DISKPART> clean``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_engine.danger import danger_reasons

# (code, a phrase the reason must contain): the option is the action
FIRES: list[tuple[str, str]] = [
    ("sudo conntrack -F", "conntrack -F (--flush) may reset"),
    ("conntrack -D -p udp --dport 53", "conntrack -D (--delete) may delete"),
    ("pfctl -k 198.51.100.7", "pfctl -k (--kill) may stop"),
    ("pfctl -F all", "pfctl -F (--flush)"),
    ("ipvsadm -C", "ipvsadm -C (--clear)"),
    ("ipvsadm -d -t 10.1.0.5:80 -r 10.1.1.9:80", "ipvsadm -d (--delete-server)"),
    ("ebtables -t nat -F", "ebtables -F (--flush)"),
    ("ipset -X scanners", "ipset -X (--destroy)"),
    ("multipath -f mpatha", "multipath -f (--flush)"),
    ("tarsnap -d -f nightly-2024-01-03", "tarsnap -d (--delete)"),
    ("exportfs -ua", "exportfs -u (--unexport)"),
    ("smbpasswd -x olduser", "smbpasswd -x (--delete)"),
    ("pdbedit -x olduser", "pdbedit -x (--delete)"),
    ("passwd -l olduser", "passwd -l (--lock)"),
    ("at -r 42", "at -r (--remove)"),
    ("iscsiadm -m node -T iqn.2010-01.example:lun3 --logout", "iscsiadm --logout may stop"),
    ("iscsiadm -m node -o delete -T iqn.2010-01.example:lun3", "iscsiadm -o delete may delete"),
    # long options: the verb first, the value its object; or an action option
    ("firewall-cmd --permanent --remove-port=8443/tcp", "firewall-cmd --remove-port may delete"),
    ("firewall-cmd --panic-on", "firewall-cmd --panic-on may stop"),
    ("cloudctl instance action --id i-42 --action HARDRESET", "--action HARDRESET may"),
    ("tar --remove-files -czf logs.tgz /var/log/app", "tar --remove-files may delete"),
    ("gpg --batch --yes --delete-secret-keys ABCD1234", "gpg --delete-secret-keys may delete"),
    # verbs glued to their object, Windows switches, names that end in their verb
    ("rndc delzone old.example", "rndc delzone may delete"),
    ("qm delsnapshot 120 pre-upgrade", "qm delsnapshot may delete"),
    ("pvecm delnode pve4", "pvecm delnode may delete"),
    ("dnscmd dc1 /recorddelete corp.example www A /f", "dnscmd dc1 /recorddelete may delete"),
    ("qmrestore /backup/vzdump-qemu-120.vma.zst 120 --force 1", "qmrestore may reset"),
    ("doveadm kick someone@corp.example", "doveadm kick may stop"),
    ("realm leave corp.example", "realm leave may stop"),
    ("pvesm free local-lvm:vm-120-disk-0", "pvesm free may delete"),
    ("pulsar-admin namespaces clear-backlog tenant/ns", "clear-backlog may reset"),
    ("pkg autoremove -y", "pkg autoremove may delete"),
    ("sysrc -x nginx_enable", "sysrc -x (--remove) may delete"),
    ("gridctl pool resize workers --nodes 0", "gridctl resize --nodes 0 may stop"),
    ("curl -X POST https://ci.example/api/v4/projects/7/pipelines/88/cancel", "admin path"),
    (": | sudo tee /var/log/app/debug.log", "tee /var/log/app/debug.log with nothing piped in"),
    ("atlas clusters pause staging-0", "atlas clusters pause may stop"),
    ("podman pod rm -f ci-cache", "podman pod rm stops or removes"),
    ("varnishadm ban 'req.url ~ ^/prices'", "varnishadm ban may stop"),
    ("svn revert -R .", "svn revert may reset"),
    ("virtctl undefine vm-7", "virtctl undefine may delete"),
    # kernel control files named for what a write does
    ("echo 1 | sudo tee /sys/block/sdc/device/delete", "tells the kernel to delete"),
    ("echo 1 > /sys/bus/pci/devices/0000:3b:00.0/remove", "tells the kernel to remove"),
]

QUIET: list[str] = [
    "conntrack -L -p tcp",
    "pfctl -sr",
    "pfctl -e",
    "ipvsadm -Ln --stats",
    "ebtables -L",
    "multipath -ll",
    "tarsnap --list-archives",
    "exportfs -ra",
    "smbpasswd -a newuser",
    "passwd -S olduser",
    "iscsiadm -m session -P 3",
    "iscsiadm -m node -o show",
    "firewall-cmd --query-panic",
    "firewall-cmd --panic-off",
    "firewall-cmd --permanent --add-port=8443/tcp",
    "firewall-cmd --list-all --zone=public",
    "cloudctl instance action --id i-42 --action START",
    "backupd run --delete-after=7d",
    "gpg --list-secret-keys",
    "tar -czf logs.tgz /var/log/app",
    "mailer deliver --queue outbound",
    "dnscmd dc1 /enumrecords corp.example @",
    "echo 1 | sudo tee /sys/class/scsi_host/host0/scan",
    "pkg info -x nginx",
    "sysrc -a",
    "gridctl pool resize workers --nodes 4",
    "echo ok | tee /tmp/status",
    ": | tee -a /tmp/status",
    "atlas clusters start staging-0",
    "podman pod ps",
    "amtool silence expire 3f2a-77",
    "poetry lock --no-update",
]


@pytest.mark.parametrize(("code", "phrase"), FIRES, ids=[c for c, _ in FIRES])
def test_the_option_or_word_that_is_the_verb_is_flagged(code: str, phrase: str) -> None:
    reasons = danger_reasons(code, "bash")
    assert any(phrase in reason for reason in reasons), reasons


@pytest.mark.parametrize("code", QUIET)
def test_reading_options_stay_quiet(code: str) -> None:
    assert danger_reasons(code, "bash") == []


def test_a_cmdlet_whose_noun_ends_in_its_verb() -> None:
    assert danger_reasons("Get-WsusServer | Invoke-WsusServerCleanup -CleanupObsoleteUpdates",
                          "powershell") == [
        "Invoke-WsusServerCleanup may reset or overwrite state: its name says so"]
    assert danger_reasons("Get-WsusServer | Get-WsusComputer", "powershell") == []
    assert danger_reasons("Get-WsusUpdate -Approval Unapproved | Deny-WsusUpdate",
                          "powershell") == ["Deny-WsusUpdate deletes or detaches what it names"]


@pytest.mark.parametrize(("code", "phrase"), [
    ("kubectl cnpg destroy pg-orders 1 -n db", "kubectl cnpg destroy may delete"),
    ("lxc image delete 8f1c2a9b", "lxc image delete may delete"),
    ("lxc storage volume delete default old", "lxc storage volume delete may delete"),
    ("docker node update --availability drain node-3", "docker node update drain may stop"),
    ("docker node demote node-3", "docker node demote may stop"),
    ("docker service scale batch=0", "docker scale batch 0 may stop"),
])
def test_a_verb_no_row_names_for_a_tool_with_rows(code: str, phrase: str) -> None:
    reasons = danger_reasons(code, "bash")
    assert any(phrase in reason for reason in reasons), reasons


@pytest.mark.parametrize("code", [
    "kubectl auth can-i delete pods -n prod", "kubectl cnpg hibernate status pg-staging",
    "ceph osd tree down", "systemctl reset-failed", "git reset HEAD notes.txt",
    "mv cleanup.sh /usr/local/bin/", "lxc image list", "docker service scale batch=4",
    "restic restore latest --target /tmp/r", "nodetool cleanup ks1",
])
def test_what_a_row_author_left_quiet_stays_quiet(code: str) -> None:
    assert danger_reasons(code, "bash") == []


def test_a_tool_with_rules_is_judged_by_them_not_by_its_option_names() -> None:
    # iptables has rows of its own: -L lists, -F flushes, and the generic names never apply
    assert danger_reasons("iptables -L -n", "bash") == []
    assert danger_reasons("iptables -F", "bash") == ["iptables -F removes every firewall rule"]


def test_a_console_named_by_its_prompt_reads_its_lines_as_that_program(tmp_path: Path) -> None:
    book = tmp_path / "wipe.md"
    book.write_text(
        "# Wipe the export disk\n\n```\nDISKPART> list disk\n  Disk 2    Online   58 GB\n\n"
        "DISKPART> select disk 2\nDISKPART> clean\n```\n\n"
        "```\nDGMGRL> show configuration\nDGMGRL> remove database standby2\n```\n\n"
        "```\nVENDORX> purge everything\n```\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "runbook_engine", "plan", str(book),
                           "--format", "json"], capture_output=True, text=True, check=True)
    steps = {s["code"]: s for s in json.loads(done.stdout)["steps"]}
    clean = steps["clean"]
    assert (clean["kind"], clean["lang"], clean["interpreter"]) == ("manual", "diskpart",
                                                                  "diskpart")
    assert clean["danger"] == ["diskpart clean erases a disk, partition or volume"]
    assert steps["list disk"]["danger"] == [] and steps["select disk 2"]["danger"] == []
    assert steps["remove database standby2"]["interpreter"] == "dgmgrl"
    assert steps["remove database standby2"]["danger"] == [
        "dgmgrl remove may delete data or resources: its name says so"]
    assert steps["show configuration"]["danger"] == []
    # a console nobody listed keeps the old reading: a console step, judged as shell
    assert steps["purge everything"]["lang"] == "console"
