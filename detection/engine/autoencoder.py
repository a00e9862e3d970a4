"""A small PyTorch autoencoder: CPU, seeded, deterministic, early-stopped on a validation slice.

Its anomaly score is the mean squared reconstruction error of a row's scaled features: traffic like the training
traffic is reconstructed well, unusual combinations are not.
"""

from __future__ import annotations

import copy
import io

import numpy as np
import torch
from torch import nn

# Torch's own thread pool at one thread in every process that imports the engine. Inference runs on a few thousand
# rows at a time, already in parallel blocks (``parallel.map_blocks``) or beside other requests' threads and
# PostgreSQL: with two intra-op threads on a busy 2-core machine, an idle-waiting thread stalled a 1,000-row batch's
# reconstruction by about 90 ms (1 ms alone); training uses one thread anyway, for identical sums on every run.
torch.set_num_threads(1)


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
        self._net64 = None

    def errors(self, X: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """Mean squared reconstruction error per row, in float64 so a row's error does not depend on its batch."""
        net = self._inference_net()
        out = np.empty(len(X))
        with torch.inference_mode():
            for lo in range(0, len(X), chunk):
                batch = torch.from_numpy(np.ascontiguousarray(X[lo : lo + chunk], dtype=np.float64))
                out[lo : lo + chunk] = ((net(batch) - batch) ** 2).mean(dim=1).numpy()
        return out

    def _inference_net(self) -> nn.Sequential:
        if self.net.training or getattr(self, "_net64", None) is None:
            self.net.eval()
            self._net64 = copy.deepcopy(self.net).double().eval()
        return self._net64

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
        self._net64 = None
