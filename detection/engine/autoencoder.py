"""A small PyTorch autoencoder: CPU, seeded, deterministic, early-stopped on a validation slice.

Its anomaly score is the mean squared reconstruction error of a row's scaled features: traffic like the training
traffic is reconstructed well, unusual combinations are not.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

# Torch's and numpy's BLAS thread pools at one thread in every process that imports the engine. Inference runs on a
# few thousand rows at a time, already in parallel blocks (``parallel.map_blocks``) or beside other requests' threads
# and PostgreSQL: on a busy machine a second intra-op thread waits idle and stalls a batch's reconstruction many
# times over; training uses one thread anyway, for identical sums on every run. The reconstruction's matrix products
# are numpy's (``Autoencoder.errors``), so its BLAS gets the same limit.
torch.set_num_threads(1)
threadpool_limits(limits=1, user_api="blas")


def _network(n_features: int, hidden: tuple[int, ...]) -> nn.Sequential:
    sizes = [n_features, *hidden, *reversed(hidden[:-1]), n_features]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class Autoencoder:
    def __init__(self, n_features: int, hidden: tuple[int, ...] = (32, 8)):
        self.n_features, self.hidden = n_features, tuple(hidden)
        self.net = _network(n_features, self.hidden)
        self.history: list[float] = []

    def fit(
        self,
        X: np.ndarray,
        *,
        seed: int,
        epochs: int = 40,
        patience: int = 4,
        batch_size: int = 256,
        learning_rate: float = 2e-3,
        validation: np.ndarray | None = None,
    ) -> Autoencoder:
        """Train on X (rows not known to be fraud); stop when the validation loss stops improving."""
        rng = np.random.default_rng(seed)
        if validation is None:
            shuffled = rng.permutation(len(X))
            cut = max(1, len(X) // 10)
            validation, X = X[shuffled[:cut]], X[shuffled[cut:]]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one thread: the same sums in the same order on every run
        try:
            torch.manual_seed(seed)
            self.net = _network(self.n_features, self.hidden)
            self._train(
                torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)),
                torch.from_numpy(np.ascontiguousarray(validation, dtype=np.float32)),
                rng,
                epochs,
                patience,
                batch_size,
                learning_rate,
            )
        finally:
            torch.set_num_threads(threads)
        return self

    def _train(self, train, valid, rng, epochs, patience, batch_size, learning_rate) -> None:
        optimizer = torch.optim.Adam(self.net.parameters(), lr=learning_rate)
        best, best_state, waited = np.inf, None, 0
        for _ in range(epochs):
            self.net.train()
            order = torch.from_numpy(rng.permutation(len(train)))
            for lo in range(0, len(train), batch_size):
                batch = train[order[lo : lo + batch_size]]
                optimizer.zero_grad()
                loss = ((self.net(batch) - batch) ** 2).mean()
                loss.backward()
                optimizer.step()
            self.net.eval()
            with torch.inference_mode():
                loss = float(((self.net(valid) - valid) ** 2).mean())
            self.history.append(loss)
            if loss < best - 1e-6:
                best, waited = loss, 0
                best_state = {k: v.clone() for k, v in self.net.state_dict().items()}
            else:
                waited += 1
                if waited >= patience:
                    break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()
        self._layers = None

    def errors(self, X: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """Mean squared reconstruction error per row, in float64 (a row's error then depends on its batch only in the
        last bits of BLAS's sums, as under torch).

        Inference is numpy over the trained weights, the same layers: torch's per-call dispatch would be most of a
        single transaction's reconstruction.
        """
        layers = self._inference_layers()
        out = np.empty(len(X))
        for lo in range(0, len(X), chunk):
            batch = np.ascontiguousarray(X[lo : lo + chunk], dtype=np.float64)
            h = batch
            for i, (weight, bias) in enumerate(layers):
                h = h @ weight
                h += bias
                if i < len(layers) - 1:
                    np.tanh(h, out=h)
            h -= batch
            h *= h
            out[lo : lo + chunk] = h.mean(axis=1)
        return out

    def _inference_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each linear layer's (weight transposed, bias) in float64, taken from the trained network once."""
        if self.net.training or getattr(self, "_layers", None) is None:
            self.net.eval()
            self._layers = [
                (np.ascontiguousarray(m.weight.detach().double().numpy().T), m.bias.detach().double().numpy().copy())
                for m in self.net
                if isinstance(m, nn.Linear)
            ]
        return self._layers

    def __getstate__(self) -> dict:
        buffer = io.BytesIO()
        torch.save(self.net.state_dict(), buffer)
        return {
            "n_features": self.n_features,
            "hidden": self.hidden,
            "history": self.history,
            "state": buffer.getvalue(),
        }

    def __setstate__(self, state: dict) -> None:
        self.n_features, self.hidden, self.history = state["n_features"], state["hidden"], state["history"]
        self.net = _network(self.n_features, self.hidden)
        self.net.load_state_dict(torch.load(io.BytesIO(state["state"]), weights_only=True))
        self.net.eval()
        self._layers = None
