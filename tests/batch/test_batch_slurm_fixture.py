"""Where Slurm cannot run, the batch tests skip and say what is missing."""

from __future__ import annotations

from slurm_cluster import why_slurm_cannot_run


def test_a_machine_without_the_slurm_clients_gets_a_reason_naming_them(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no Slurm on it
    reason = why_slurm_cannot_run()
    assert reason is not None
    for client in ("sbatch", "squeue", "scancel", "sinfo", "munge"):
        assert client in reason
    assert "scripts/setup.sh" in reason
