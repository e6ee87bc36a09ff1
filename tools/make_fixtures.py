#!/usr/bin/env python3
"""make_fixtures.py: reference values for tests/model/test_fixtures.c, computed with PyTorch in float64.

Builds the same small network as the engine (ResNet-18 with BasicBlocks at width 0.25, CIFAR stem: 3x3/1 conv and
no max-pool; SimCLR projection head v1: Linear(f,f) no bias, BN, ReLU, Linear(f,128) no bias, BN without shift).
Weights, BN buffers and the input images come from a hash both sides compute (fixture_value below; the C test has
the same function), so the files hold only results. For a batch of 2N = 8 views of 16x16 images it records:
  - the NT-Xent loss (tau 0.5) and the gradients of selected tensors after one forward/backward,
  - selected tensors after 3 steps of SGD with momentum (PyTorch's torch.optim.SGD, weight decay on everything),
  - selected tensors after 3 steps of LARS as in google-research/simclr (no decay, no trust scaling on biases and
    BN parameters; trust = eta*||w||/||g + wd*w|| falling back to 1).
Run by hand (not in CI) from the repository root:  /usr/bin/python3 tools/make_fixtures.py
Output: tests/model/fixtures/resnet18w025_c{1,3}.bin in a plain format the C test reads without a JSON parser:
  magic b"SCFX", u32 version 1, u32 count, then per record: u32 name length, name (UTF-8), u32 ndim,
  i64 dims[ndim], float32 data (C order, little-endian). Names: "loss", "grad/<key>", "sgd3/<key>", "lars3/<key>";
  convolution weights are OIHW as torchvision.
"""
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

TAU = 0.5
PAIRS = 4
SIZE = 16
SGD_LR, SGD_MOMENTUM, SGD_WD = 0.01, 0.9, 5e-4
LARS_LR, LARS_MOMENTUM, LARS_WD, LARS_ETA = 0.1, 0.9, 1e-4, 1e-3
# the tensors whose gradients and updated values are recorded (all parameters would make the files large)
SELECTED = ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.1.bn2.weight",
            "layer2.0.conv1.weight", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias",
            "layer3.0.downsample.0.weight", "layer4.0.downsample.0.weight", "layer4.1.bn2.bias", "head.0.weight",
            "head.1.weight", "head.1.bias", "head.3.weight", "head.4.weight"]


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class Net(nn.Module):
    def __init__(self, cin, width=0.25, proj=128):
        super().__init__()
        base = int(64 * width)
        self.conv1 = nn.Conv2d(cin, base, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        inplanes = base
        for s in range(4):
            blocks = []
            for b in range(2):
                stride = 2 if s > 0 and b == 0 else 1
                blocks.append(BasicBlock(inplanes, base << s, stride))
                inplanes = base << s
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*blocks))
        f = inplanes
        self.head = nn.Sequential(nn.Linear(f, f, bias=False), nn.BatchNorm1d(f), nn.ReLU(),
                                  nn.Linear(f, proj, bias=False), nn.BatchNorm1d(proj))
        self.head[4].bias.requires_grad_(False)  # SimCLR's last BN has no shift

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for s in range(4):
            x = getattr(self, "layer%d" % (s + 1))(x)
        return self.head(x.mean(dim=(2, 3)))


MASK64 = (1 << 64) - 1


def fnv1a(name):
    h = 0xcbf29ce484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001b3) & MASK64
    return h


def mix(z):
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & MASK64
    return z ^ (z >> 31)


def hash_uniform(name, n):
    """n values in [-1, 1): element i from SplitMix64's finaliser of fnv1a(name) + (i+1)*golden, top 24 bits."""
    key = fnv1a(name)
    return torch.tensor([(mix((key + (i + 1) * 0x9e3779b97f4a7c15) & MASK64) >> 40) / 16777216.0 * 2.0 - 1.0
                         for i in range(n)], dtype=torch.float64)


def fixture_value(name, shape):
    """The deterministic initial value of a tensor (torchvision layout), rounded to float32."""
    n = 1
    for d in shape:
        n *= d
    u = hash_uniform(name, n)
    if len(shape) == 4:  # convolution: uniform with Kaiming's fan_out variance 2/fan_out
        v = u * (6.0 / (shape[0] * shape[2] * shape[3])) ** 0.5
    elif len(shape) == 2:  # linear
        v = u / shape[1] ** 0.5
    elif name.endswith("running_var"):
        v = 0.75 + 0.25 * u
    elif name.endswith(".weight"):  # BN gamma
        v = 1.0 + 0.2 * u
    else:  # BN beta, running_mean
        v = 0.1 * u
    return v.to(torch.float32).to(torch.float64).reshape(shape)


def ntxent(z, tau):
    two_n = z.shape[0]
    zn = F.normalize(z, dim=1)
    s = zn @ zn.t() / tau
    s = s.masked_fill(torch.eye(two_n, dtype=torch.bool), float("-inf"))
    pos = (torch.arange(two_n) + two_n // 2) % two_n
    return F.cross_entropy(s, pos)


def excluded(name):
    return "bn" in name or "downsample.1" in name or name.endswith(".bias") or name.startswith("head.1") \
        or name.startswith("head.4")


def lars_step(net, velocity):
    with torch.no_grad():
        for name, p in net.named_parameters():
            if not p.requires_grad:
                continue
            ex = excluded(name)
            d = p.grad + (0.0 if ex else LARS_WD) * p
            trust = 1.0
            if not ex:
                wn, gn = p.norm().item(), d.norm().item()
                trust = LARS_ETA * wn / gn if wn > 0 and gn > 0 else 1.0
            v = velocity.setdefault(name, torch.zeros_like(p))
            v.mul_(LARS_MOMENTUM).add_(LARS_LR * trust * d)
            p.sub_(v)


def train3(net, x, kind):
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=SGD_LR, momentum=SGD_MOMENTUM,
                          weight_decay=SGD_WD) if kind == "sgd" else None
    velocity = {}
    for _ in range(3):
        net.zero_grad()
        ntxent(net(x), TAU).backward()
        if opt:
            opt.step()
        else:
            lars_step(net, velocity)
    return {k: v.clone() for k, v in net.state_dict().items()}


def write(path, records):
    with open(path, "wb") as f:
        f.write(b"SCFX" + struct.pack("<II", 1, len(records)))
        for name, t in records:
            t = t.detach().to(torch.float32).contiguous()
            b = name.encode()
            f.write(struct.pack("<I", len(b)) + b + struct.pack("<I", t.dim()))
            f.write(struct.pack("<%dq" % t.dim(), *t.shape))
            f.write(t.numpy().astype("<f4").tobytes())


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "model", "fixtures")
    os.makedirs(out, exist_ok=True)
    for cin in (1, 3):
        net = Net(cin).double()
        with torch.no_grad():
            for k, v in net.state_dict().items():
                if not k.endswith("num_batches_tracked"):
                    v.copy_(fixture_value(k, list(v.shape)) if k != "head.4.bias" else torch.zeros_like(v))
        x = fixture_value("input", [2 * PAIRS, SIZE, SIZE, cin]).permute(0, 3, 1, 2).contiguous()  # stored NHWC
        init = {k: v.clone() for k, v in net.state_dict().items()}
        records = []
        net.zero_grad()
        loss = ntxent(net(x), TAU)
        loss.backward()
        grads = dict(net.named_parameters())
        records.append(("loss", loss.reshape(1)))
        records += [("grad/" + k, grads[k].grad.clone()) for k in SELECTED]
        for kind in ("sgd", "lars"):
            net.load_state_dict(init)
            after = train3(net, x, kind)
            records += [("%s3/%s" % (kind, k), after[k]) for k in SELECTED + ["bn1.running_mean", "bn1.running_var"]]
        path = os.path.join(out, "resnet18w025_c%d.bin" % cin)
        write(path, records)
        print("%s: loss %.6f, %d records, %d bytes" % (path, loss.item(), len(records), os.path.getsize(path)))


if __name__ == "__main__":
    main()
