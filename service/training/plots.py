"""The loss-curve plot stored beside a version, when the optional plotting extra is installed."""

from __future__ import annotations

import io


def loss_curve_png(loss: list[float], val_loss: list[float], title: str) -> bytes | None:
    """Render the training (and validation) loss per epoch as PNG; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on servers
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(6, 3.5), dpi=100)
    ax = fig.add_subplot()
    epochs = range(1, len(loss) + 1)
    ax.plot(epochs, loss, label="training loss")
    if val_loss:
        ax.plot(range(1, len(val_loss) + 1), val_loss, label="validation loss")
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    if min(loss) > 0 and max(loss) / min(loss) > 100:
        ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
