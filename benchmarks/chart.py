"""The PNG chart: one row per server, one panel per measure, bars per client."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .stats import LARGE, SMALL, Cell

__all__ = ["write_chart"]

_PANELS = (
    ("large objects: MB/s", LARGE, "mbps"),
    ("small objects: objects/s", SMALL, "objps"),
    ("large objects: CPU s/GiB (lower is better)", LARGE, "cpu_per_gib"),
    ("streamed memory: peak RSS above idle, MiB", None, "rss_above_mib"),
)


def write_chart(
    path: Path,
    cells: dict[tuple[str, str, str], Cell],
    servers: Sequence[str],
    workloads: Sequence[str],
    clients: Sequence[str],
    title: str,
) -> Path | None:
    """Write the chart; return None (and write nothing) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(
        len(servers),
        len(_PANELS),
        figsize=(5.2 * len(_PANELS), 4.2 * len(servers)),
        squeeze=False,
    )
    memory = tuple(w for w in workloads if w.startswith("memory-"))
    width = 0.8 / max(len(clients), 1)
    for row, server in enumerate(servers):
        for column, (label, group, metric) in enumerate(_PANELS):
            ax = axes[row][column]
            names = [w for w in workloads if w in (group or memory)]
            for index, client in enumerate(clients):
                values = []
                for workload in names:
                    cell = cells.get((server, workload, client))
                    value = getattr(cell, metric) if cell is not None else None
                    values.append(float(value) if value is not None else 0.0)
                ax.bar([i + index * width for i in range(len(names))], values, width, label=client)
            if metric == "rss_above_mib":
                ax.axhline(64, color="black", linewidth=0.8, linestyle="--")
            ax.set_xticks([i + width * (len(clients) - 1) / 2 for i in range(len(names))])
            ax.set_xticklabels(names, fontsize=8)
            ax.set_title(f"{server}: {label}", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
