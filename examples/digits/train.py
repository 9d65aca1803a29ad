"""A small CNN on scikit-learn's bundled 8x8 digits (real data, no download).

    python train.py --width 8            # the small model
    python train.py --width 64           # the large one
    python train.py --npz dermamnist.npz # a MedMNIST file instead (e.g. the paper's DermaMNIST)

Writes metrics.json: {"test": {"accuracy": ...}, "params": ..., "model": {...}}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def load_digits_split(seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    return x_tr, y_tr, x_te, y_te


def load_medmnist(path: Path) -> tuple[np.ndarray, ...]:
    """MedMNIST .npz: {train,test}_{images,labels}; images N x H x W (x 3)."""
    data = np.load(path)
    missing = {"train_images", "train_labels", "test_images", "test_labels"} - set(data.files)
    if missing:
        raise SystemExit(f"{path}: not a MedMNIST file, missing arrays {sorted(missing)}")

    def images(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float32) / 255.0
        return a[:, None] if a.ndim == 3 else np.transpose(a, (0, 3, 1, 2))

    return (
        images(data["train_images"]),
        data["train_labels"].reshape(-1).astype(np.int64),
        images(data["test_images"]),
        data["test_labels"].reshape(-1).astype(np.int64),
    )


class Net(nn.Module):
    def __init__(self, channels: int, classes: int, width: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Linear(2 * width * 16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--width", type=int, default=8, help="channels of the first conv layer")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--npz", type=Path, help="a MedMNIST .npz file instead of the digits")
    ap.add_argument("--out", type=Path, default=Path("metrics.json"))
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    x_tr, y_tr, x_te, y_te = load_medmnist(args.npz) if args.npz else load_digits_split(args.seed)
    classes = int(max(y_tr.max(), y_te.max()) + 1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = Net(x_tr.shape[1], classes, args.width).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x_tr).to(device), torch.from_numpy(y_tr).to(device)

    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), device=device)
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}/{args.epochs} loss {loss.item():.4f}", flush=True)

    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x_te).to(device)).argmax(1).cpu().numpy()
    accuracy = float((pred == y_te).mean())
    params = sum(p.numel() for p in model.parameters())
    metrics = {
        "test": {"accuracy": accuracy},
        "params": params,
        "model": {"width": args.width, "epochs": args.epochs, "device": device},
        "train_seconds": time.perf_counter() - t0,
    }
    args.out.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(f"test accuracy {accuracy:.4f} with {params:,} parameters -> {args.out}")


if __name__ == "__main__":
    main()
