"""Fine-tuning a YOLO detector on an ultralytics dataset (the catalog's synthetic scenes, `train.synthetic`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from models.detector import DetectorError
from models.runtime import pick_device, set_threads


def train_detector(
    data: str | Path,
    model,
    out: str | Path,
    *,
    samples: Sequence[Image.Image],
    epochs: int,
    imgsz: int,
    device: str | None = None,
    batch: int = 16,
    threads: int = 0,
) -> Path:
    """Fine-tune the YOLO `model` (`load_yolo`) on the ultralytics dataset `data` (a data.yaml); the
    best weights are copied to `out` (a .pt path), which is returned. `samples`: some of its training
    images, that the batch norms are first matched to (`match_batch_norms`)."""
    out = Path(out)
    set_threads(threads)
    match_batch_norms(model.model, samples, imgsz)
    run = out.parent / f"{out.stem}-run"
    # plots off: they fetch a font from the network; val on: best.pt is chosen on the held scenes.
    model.train(
        data=str(data),
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        device=pick_device(device),
        workers=2,
        plots=False,
        amp=False,
        project=str(run.parent),
        name=run.name,
        exist_ok=True,
        seed=0,
        verbose=False,
    )
    best = run / "weights" / "best.pt"
    if not best.exists():
        raise DetectorError(f"Training wrote no weights into {run}.")
    out.write_bytes(best.read_bytes())
    return out


def match_batch_norms(network, samples: Sequence[Image.Image], imgsz: int) -> None:
    """Set each batch norm's statistics to those of its input on `samples`, keeping what the layer computes.

    Training normalises by each batch's statistics. Weights rebuilt from a fused export (such as an
    INT8 one) carry identity batch norms whose scales live in the convolutions, so training would
    start from a different, broken network (a class loss in the hundreds, no box found after an
    epoch). Stored statistics that match the data make training start from the network as it is.
    """
    import torch

    norms = [m for m in network.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    seen: dict[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def record(module, inputs):
        x = inputs[0].detach().float()
        seen[module] = (x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3)))

    hooks = [m.register_forward_pre_hook(record) for m in norms]
    pixels = np.stack([np.asarray(s.convert("RGB").resize((imgsz, imgsz)), np.float32) / 255 for s in samples])
    network.float().eval()
    with torch.no_grad():
        network(torch.from_numpy(pixels).permute(0, 3, 1, 2))
    for hook in hooks:
        hook.remove()
    with torch.no_grad():
        for m in norms:
            mean, var = seen[m]
            # The layer is y = a x + c; keep a and c with the new statistics.
            a = m.weight / torch.sqrt(m.running_var + m.eps)
            c = m.bias - a * m.running_mean
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.weight.copy_(a * torch.sqrt(var + m.eps))
            m.bias.copy_(c + a * mean)
