"""spikingjelly zoo ResNets (activation_based, multi-step) wrapped to take one image and present it at
every step, with BatchNorm statistics excited so that every layer spikes (untrained weights)."""
import numpy as np
import torch


class EveryStep(torch.nn.Module):
    """``x [B, C, H, W]`` → ``net(x repeated T times) [T, B, classes]``."""

    def __init__(self, net, T):
        super().__init__()
        self.net, self.T = net, T

    def forward(self, x):
        return self.net(x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1))


def zoo_resnet(kind: str, T: int = 4, seed: int = 0):
    from spikingjelly.activation_based import functional, neuron, surrogate
    from spikingjelly.activation_based.model import sew_resnet, spiking_resnet

    torch.manual_seed(seed)
    kw = dict(spiking_neuron=neuron.LIFNode, surrogate_function=surrogate.Sigmoid(), detach_reset=True,
              num_classes=10)
    net = (sew_resnet.sew_resnet18(cnf="ADD", **kw) if kind == "sew" else spiking_resnet.spiking_resnet18(**kw))
    functional.set_step_mode(net, "m")
    model = EveryStep(net, T).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(1.0, 3.0)
                m.bias.uniform_(0.0, 0.5)
    return model


def run_with_rates(model, x: np.ndarray):
    """The model's output ``[T, N, classes]`` and the firing rate of every LIF."""
    from spikingjelly.activation_based import functional, neuron

    rates = []
    hooks = [m.register_forward_hook(lambda mod, i, o: rates.append(float(o.float().mean())))
             for m in model.modules() if isinstance(m, neuron.LIFNode)]
    try:
        with torch.no_grad():
            functional.reset_net(model)
            out = model(torch.from_numpy(x)).numpy()
    finally:
        for h in hooks:
            h.remove()
    return out, rates


def digits_rgb(n: int, size: int = 16) -> np.ndarray:
    """The first ``n`` test digits, grey repeated to 3 channels ``[n, 3, size, size]``."""
    from snncompile.examples.data import load_digits

    x = load_digits(size).x_test[:n].numpy()
    return np.repeat(x, 3, axis=1).astype(np.float32)
