"""A GAN on 100-D gaussian data read from an HDF5 file of the layout PyTables writes, watched
live by ganscope.

The file holds an extendable `/data` array (rows appended as they were collected) beside a
`/metadata` group, as `tables.File.create_earray` leaves it; `write_pytables_like` makes one
with h5py when the file does not exist yet. The GAN judges itself by what a researcher would
check by hand: per-dimension KS statistics, the correlation matrix and the distribution of
sample norms. ganscope draws all three live and raises a mode-collapse event when the samples'
spread falls under a quarter of the data's.

The five lines marked `# ganscope` are all the watching there is.

    python examples/gauss_100d_hdf5.py --file /tmp/gauss100.h5 --steps 3000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn

import gancore.watch as gw  # ganscope

DIM = LATENT = 100


def write_pytables_like(path: Path, n: int = 20_000, seed: int = 0) -> None:
    """A 100-D standard gaussian sample in PyTables' layout: an EArray at /data (chunked,
    unlimited first axis, CLASS="EARRAY") and a /metadata group of attributes."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f.attrs.update(CLASS=np.bytes_("GROUP"), PYTABLES_FORMAT_VERSION=np.bytes_("2.1"),
                       TITLE=np.bytes_(""), VERSION=np.bytes_("1.0"))
        data = f.create_dataset("data", shape=(0, DIM), maxshape=(None, DIM), dtype="f4",
                                chunks=(1024, DIM))
        data.attrs.update(CLASS=np.bytes_("EARRAY"), EXTDIM=np.int32(0),
                          VERSION=np.bytes_("1.1"), TITLE=np.bytes_("samples"))
        for start in range(0, n, 5000):  # appended in blocks, as a logger would
            block = rng.standard_normal((min(5000, n - start), DIM)).astype("f4")
            data.resize(start + len(block), axis=0)
            data[start:] = block
        meta = f.create_group("metadata")
        meta.attrs.update(CLASS=np.bytes_("GROUP"), TITLE=np.bytes_(""),
                          VERSION=np.bytes_("1.0"), source=np.bytes_("synthetic N(0, I)"),
                          dim=DIM)


def read_data(path: Path) -> torch.Tensor:
    with h5py.File(path, "r") as f:
        return torch.from_numpy(f["data"][:])  # (n, 100)


def mlp(n_in: int, n_out: int, hidden: int = 256) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                         nn.LeakyReLU(0.2), nn.Linear(hidden, n_out))


def train(path: Path, steps: int, seed: int = 0, noise_scale: float = 0.01, batch: int = 256,
          dashboard: str | None = "auto") -> tuple[nn.Module, nn.Module]:
    """A non-saturating GAN; `noise_scale` 0.01 (narrow noise) is the researcher's failing run."""
    torch.manual_seed(seed)
    x_all = read_data(path)
    G, D = mlp(LATENT, DIM), mlp(DIM, 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    w = gw.watch(G, D, data=x_all, noise=lambda n: noise_scale * torch.randn(n, LATENT),  # ganscope
                 d_output="logits", name="gauss-100d-hdf5", dashboard=dashboard)  # ganscope
    for _ in range(steps):
        real = x_all[torch.randint(0, len(x_all), (batch,))]
        fake = G(noise_scale * torch.randn(batch, LATENT))
        d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = bce(D(fake), ones)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        w.step(d_loss=d_loss, g_loss=g_loss)  # ganscope
    w.close()  # ganscope
    return G, D


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--file", type=Path, default=Path("gauss100.h5"))
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise-scale", type=float, default=0.01)
    p.add_argument("--dashboard", default="auto", help="'auto', a dashboard's URL, or 'none'")
    args = p.parse_args()
    if not args.file.exists():
        write_pytables_like(args.file)
    train(args.file, args.steps, args.seed, args.noise_scale,
          dashboard=None if args.dashboard == "none" else args.dashboard)
