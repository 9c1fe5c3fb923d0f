"""A real SLURM on this machine for the tests marked `slurm`: one controller and two compute nodes (n1, n2) as
local daemons, MUNGE for authentication, every path in a temporary folder.

Needs root and Debian's `slurm-wlm` and `munge` (`make test-slurm` installs them with apt where it can). `up()`
starts the daemons and waits until both nodes are idle; `down()` stops every daemon it started and restores
/etc/hosts (n1 and n2 must resolve: Lightning takes the first node of SLURM_NODELIST as the master address).
Clients (sbatch, submitit) find the cluster through SLURM_CONF.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "scontrol")
HOSTS = Path("/etc/hosts")
HOSTS_LINE = "127.0.0.1 n1 n2  # zerovlm test cluster"


def unavailable() -> str | None:
    """Why this machine cannot run the cluster, or None."""
    if os.geteuid() != 0:
        return "the SLURM tests start slurmctld, slurmd and munged: they need root"
    missing = [d for d in DAEMONS if shutil.which(d) is None and not Path("/usr/sbin", d).exists()]
    if missing:
        return (f"{', '.join(missing)} not installed: `make test-slurm` installs slurm-wlm and munge with apt "
                "(as root)")
    try:
        import hydra_plugins.hydra_submitit_launcher  # noqa: F401
    except ImportError:
        return 'hydra-submitit-launcher not installed: pip install -e ".[slurm]" (make test-slurm does)'
    return None


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


class Cluster:
    def __init__(self, root: Path, cpus: int = 2) -> None:
        self.root, self.cpus = Path(root), cpus
        self.conf = self.root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.procs: list[subprocess.Popen] = []
        self._hosts: str | None = None

    def _write_conf(self) -> None:
        host = socket.gethostname()
        for folder in ("state", "spool", "log", "run"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        nodes = "\n".join(f"NodeName={n} NodeHostname={host} NodeAddr=127.0.0.1 Port={port} CPUs={self.cpus} "
                          "RealMemory=10000 State=UNKNOWN" for n, port in (("n1", 17001), ("n2", 17002)))
        self.conf.write_text(f"""ClusterName=zerovlm-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort=16817
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
JobRequeue=1
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MinJobAge=600
KillWait=5
StateSaveLocation={self.root}/state
SlurmdSpoolDir={self.root}/spool/%n
SlurmctldPidFile={self.root}/run/slurmctld.pid
SlurmdPidFile={self.root}/run/slurmd.%n.pid
SlurmctldLogFile={self.root}/log/slurmctld.log
SlurmdLogFile={self.root}/log/slurmd.%n.log
{nodes}
PartitionName=debug Nodes=n[1-2] Default=YES MaxTime=INFINITE State=UP
""")

    def _start(self, *command: str, user: str | None = None) -> None:
        log = open(self.root / "log" / f"{Path(command[0]).name}.out", "a")
        if user:
            command = ("runuser", "-u", user, "--", *command)
        self.procs.append(subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True))

    def up(self, timeout: float = 60) -> Cluster:
        self._write_conf()
        self._hosts = HOSTS.read_text()
        HOSTS.write_text(self._hosts.rstrip("\n") + f"\n{HOSTS_LINE}\n")
        Path("/run/munge").mkdir(exist_ok=True)  # munged's default socket, where SLURM's plugin looks
        shutil.chown("/run/munge", "munge", "munge")
        self._start(_binary("munged"), "--foreground", "--force", user="munge")
        self._start(_binary("slurmctld"), "-D", "-i", "-f", str(self.conf))
        for node in ("n1", "n2"):
            self._start(_binary("slurmd"), "-D", "-N", node, "-f", str(self.conf))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], env=self.env, capture_output=True, text=True)
            states = dict(line.split() for line in out.stdout.splitlines() if line.strip())
            if states.get("n1") == "idle" and states.get("n2") == "idle":
                return self
            time.sleep(1)
        self.down()
        raise RuntimeError(f"the test cluster did not come up in {timeout} s: see {self.root / 'log'}")

    def run(self, *command: str) -> str:
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=True).stdout

    def _leftover_steps(self) -> set[int]:
        """Job processes of this cluster still alive: batch scripts in its spool and their slurmstepd."""
        pids = set()
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and str(self.root).encode() in (entry / "cmdline").read_bytes():
                    pids.add(int(entry.name))
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    if (Path("/proc") / str(parent) / "cmdline").read_bytes().startswith(b"slurmstepd"):
                        pids.add(parent)
            except (OSError, ValueError, IndexError):
                continue
        return pids - {p.pid for p in self.procs}

    def down(self) -> None:
        subprocess.run(["scancel", "--quiet", "--full", "--user=root"], env=self.env, capture_output=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and subprocess.run(
                ["squeue", "-h"], env=self.env, capture_output=True, text=True).stdout.strip():
            time.sleep(0.5)
        for pid in self._leftover_steps():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()
        if self._hosts is not None:
            HOSTS.write_text(self._hosts)
            self._hosts = None
