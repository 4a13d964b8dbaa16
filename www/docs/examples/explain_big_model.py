"""Explain a model in Python with Captum, save the results for nnlens to show in the browser.

The Python half of www/docs/big-models.md. A model too big for the browser stays in Python:
Captum computes its attributions and a forward hook collects one layer's activations, and only
those small arrays travel to the page, saved with numpy.save (.npy) and safetensors. Here the
"big" model is a tiny CNN with seeded random weights so that the script runs anywhere in
seconds without downloading anything; replace `make_model` and `load_inputs` with your own.

Inputs: the 60 held-out digits of www/examples/digits60.npy and their labels.
Outputs, in www/docs/examples/ (a few KB each), shown by big-model.html:
  attr.npy                float32 [1, 28, 28]: Integrated Gradients of the predicted class
                          for the first digit (numpy.save)
  attributions.safetensors  the same map and a Saliency map, float16, with the target and the
                          convergence delta in the metadata (safetensors.numpy.save_file)
  acts.npy                float16 [60, 32]: the hidden layer `fc1` for each digit (a forward hook)
  logits.npy              float16 [60, 10]: the output layer for each digit
  labels.npy              uint8 [60]: each digit's label
The .npy files come out byte for byte the same on every run; attributions.safetensors too,
except the order of its metadata keys, which the safetensors package does not fix.

Requires: torch, captum, numpy, safetensors (pip install captum safetensors).
Run: python3 www/docs/examples/explain_big_model.py
"""

from pathlib import Path

import numpy as np
import torch
from captum.attr import IntegratedGradients, Saliency
from safetensors.numpy import save_file
from torch import nn

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"


def make_model() -> nn.Module:
    """A small CNN for 1 x 28 x 28 digits with seeded random weights (stands in for yours)."""
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("conv1", nn.Conv2d(1, 8, 3, padding=1))
    model.add_module("relu1", nn.ReLU())
    model.add_module("pool1", nn.MaxPool2d(2))
    model.add_module("conv2", nn.Conv2d(8, 16, 3, padding=1))
    model.add_module("relu2", nn.ReLU())
    model.add_module("pool2", nn.MaxPool2d(2))
    model.add_module("flatten", nn.Flatten())
    model.add_module("fc1", nn.Linear(16 * 7 * 7, 32))
    model.add_module("relu3", nn.ReLU())
    model.add_module("fc2", nn.Linear(32, 10))
    return model.eval()


def load_inputs() -> tuple[torch.Tensor, np.ndarray]:
    """The 60 digits, [60, 1, 28, 28] float32 in [0, 1], and their labels."""
    images = np.load(EXAMPLES / "digits60.npy").astype(np.float32)
    labels = np.load(EXAMPLES / "labels60.npy").astype(np.uint8)
    return torch.from_numpy(images), labels


def layer_outputs(model: nn.Module, layer: str, inputs: torch.Tensor) -> np.ndarray:
    """`layer`'s output for every input, collected by a forward hook, flattened per sample."""
    collected = []
    hook = model.get_submodule(layer).register_forward_hook(
        lambda _module, _inputs, output: collected.append(output.detach().flatten(1))
    )
    with torch.no_grad():
        model(inputs)
    hook.remove()
    return torch.cat(collected).numpy()


def main() -> None:
    model = make_model()
    images, labels = load_inputs()

    # Attribution of the predicted class for the first digit, as Captum computes it.
    first = images[:1].clone().requires_grad_()
    with torch.no_grad():
        target = int(model(first).argmax(dim=1))
    ig, delta = IntegratedGradients(model).attribute(
        first, target=target, n_steps=50, return_convergence_delta=True
    )
    gradient = Saliency(model).attribute(first, target=target, abs=True)

    # numpy.save: <nnlens-heatmap src="attr.npy"> and loadNpy read it. Shape [1, 28, 28]
    # (the batch of one dropped); the heatmap drops leading axes of length 1 as well.
    np.save(HERE / "attr.npy", ig[0].detach().numpy().astype(np.float32))

    # safetensors: several named tensors and string metadata in one file, for loadSafetensors.
    save_file(
        {
            "integrated_gradients": ig[0].detach().numpy().astype(np.float16),
            "saliency": gradient[0].detach().numpy().astype(np.float16),
        },
        str(HERE / "attributions.safetensors"),
        metadata={"target": str(target), "delta": f"{float(delta[0]):.3g}", "model": "tiny CNN, seed 0"},
    )

    # Activations per layer for the whole set, one row per sample: what
    # <nnlens-projection data="acts.npy" labels="labels.npy"> projects. float16 halves the size.
    np.save(HERE / "acts.npy", layer_outputs(model, "fc1", images).astype(np.float16))
    np.save(HERE / "logits.npy", layer_outputs(model, "fc2", images).astype(np.float16))
    np.save(HERE / "labels.npy", labels)

    for name in ("attr.npy", "attributions.safetensors", "acts.npy", "logits.npy", "labels.npy"):
        print(f"{name}: {(HERE / name).stat().st_size} bytes")
    print(f"target {target}, Integrated Gradients convergence delta {float(delta[0]):.3g}")


if __name__ == "__main__":
    main()
