#!/usr/bin/python3
"""pytorch_compare.py: the same SimCLR workloads in this engine (`simclr bench --json`) and in PyTorch, on the same
machine, thread count and batch, each side in its own process, the two sides alternated --reps times. Prints per
figure the median images/s (or ms) of each side, the ratio engine/PyTorch, each side's fraction of the FMA peak the
engine measured on the same threads, and each side's peak resident set (ru_maxrss of its process).

Figures (--figures, comma-separated; default all):
  train_cifar   SimCLR step (2 views, forward + backward + LARS), ResNet-18 CIFAR stem, 3x32x32, batch 128
  train_mnist   the same on 1x28x28, batch 256
  train_demo    the same for the demo's default model: ResNet-18 at width 0.25 (16-128 channels), its 1x20x20
                views, batch 256
  infer_r18     encoder features, ResNet-18 CIFAR stem, 3x32x32, batch 256 (engine: BN-folded encoder)
  infer_r50     encoder features, ResNet-50, 3x224x224, batch 16 (engine: BN-folded encoder)
  ntxent        NT-Xent forward + backward, 2N = 512, 1024, 4096, d = 128
  probe         linear probe on 60,000 x 512 structured random features, 10 classes, 10,000 test rows:
                PyTorch Adam (lr 1e-3, 100 epochs, batch 256) against the engine's L-BFGS logistic regression

PyTorch runs at its best: GLIBC_TUNABLES keeps freed memory mapped (no page faults per step), ATEN_CPU_CAPABILITY
=avx512, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset, torch.set_num_threads set explicitly, and where a choice exists
(channels_last or not for training; eager eval+no_grad, or TorchScript frozen with conv-BN folding and
optimize_for_inference, for inference) every variant runs in the first repetition and the fastest is kept.

The default run is short (every figure at all cores, training and ResNet-18 inference batches divided by 4, one
timed step per process, 10 Adam epochs for the probe): a few minutes on two cores. For the published figures:
  /usr/bin/python3 bench/pytorch_compare.py --full                   # brief's batches, 1 and all threads
  /usr/bin/python3 bench/pytorch_compare.py --full --threads 2 --figures train_cifar --steps 3 --reps 7
Options: --simclr PATH (default build/simclr), --threads 1,2, --reps N (>= 5 advised), --steps K, --warmup K,
--figures LIST, --json-out FILE (every raw measurement), --torch-variant NAME (force one PyTorch variant),
--peak-per-thread GFLOPS (the denominator of the peak fractions; by default the engine's FMA loop, run before and
after each engine measurement, which reads low on a loaded machine). On a shared machine, running the whole script
under `nice -n -10` gives both sides the same, larger share of the cores.
Without PyTorch the script says so and exits 0 after the engine side alone (--engine-only does that on purpose).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ---------------------------------------------------------------------------------------------------------------
# the PyTorch worker (runs in its own process: python3 pytorch_compare.py --worker JSON)
# ---------------------------------------------------------------------------------------------------------------


def scaled_resnet18(torch, channels, width):
    """ResNet-18 with the CIFAR stem and width * (64, 128, 256, 512) channels, as the engine builds it at --width."""
    from torchvision.models.resnet import BasicBlock
    nn = torch.nn
    planes = [int(64 * width * m) for m in (1, 2, 4, 8)]
    layers = [nn.Conv2d(channels, planes[0], 3, 1, 1, bias=False), nn.BatchNorm2d(planes[0]), nn.ReLU(inplace=True)]
    inp = planes[0]
    for p, stride in zip(planes, (1, 2, 2, 2)):
        for j in range(2):
            s = stride if j == 0 else 1
            down = None
            if s != 1 or inp != p:
                down = nn.Sequential(nn.Conv2d(inp, p, 1, s, bias=False), nn.BatchNorm2d(p))
            layers.append(BasicBlock(inp, p, s, down))
            inp = p
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), inp


def build_encoder(torch, arch, channels, size, width=1.0):
    import torchvision
    nn = torch.nn
    if width != 1.0:
        if arch != 'resnet18' or size > 32:
            raise ValueError('width multipliers are built for resnet18 with the CIFAR stem only')
        return scaled_resnet18(torch, channels, width)
    m = getattr(torchvision.models, arch)(weights=None)
    if size <= 32:  # CIFAR stem: 3x3/1 convolution, no max-pool
        m.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    elif channels != 3:
        m.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    feat = m.fc.in_features
    m.fc = nn.Identity()
    return m, feat


def simclr_model(torch, arch, channels, size, width=1.0):
    nn = torch.nn
    enc, feat = build_encoder(torch, arch, channels, size, width)
    last_bn = nn.BatchNorm1d(128)
    last_bn.bias.requires_grad_(False)  # SimCLR's last head BN has no shift
    head = nn.Sequential(nn.Linear(feat, feat, bias=False), nn.BatchNorm1d(feat), nn.ReLU(inplace=True),
                         nn.Linear(feat, 128, bias=False), last_bn)
    return nn.Sequential(enc, head)


def ntxent(torch, z, tau):
    F = torch.nn.functional
    z = F.normalize(z, dim=1)
    two_n = z.shape[0]
    n = two_n // 2
    s = (z @ z.t()) / tau
    s = s.masked_fill(torch.eye(two_n, dtype=torch.bool), float('-inf'))
    target = torch.cat([torch.arange(n, two_n), torch.arange(0, n)])
    return F.cross_entropy(s, target)


class LARS:
    """SimCLR's LARS: momentum 0.9, trust coefficient 1e-3, weight decay 1e-6; biases and BN parameters excluded
    from both the decay and the trust ratio (as the engine's optimiser)."""

    def __init__(self, torch, named_params, lr, momentum=0.9, eta=1e-3, wd=1e-6):
        self.torch = torch
        self.params = [(p, p.ndim <= 1) for _, p in named_params if p.requires_grad]
        self.bufs = [torch.zeros_like(p) for p, _ in self.params]
        self.lr, self.m, self.eta, self.wd = lr, momentum, eta, wd

    def step(self):
        torch = self.torch
        with torch.no_grad():
            for (p, excluded), v in zip(self.params, self.bufs):
                g = p.grad
                if not excluded:
                    g = g.add(p, alpha=self.wd)
                    pn, gn = torch.linalg.vector_norm(p), torch.linalg.vector_norm(g)
                    trust = torch.where((pn > 0) & (gn > 0), self.eta * pn / gn, torch.ones_like(pn))
                    g = g * trust
                v.mul_(self.m).add_(g, alpha=self.lr)
                p.sub_(v)


def peak_rss_mb(resource):
    """This process's peak resident set: VmHWM (its own address space only), else ru_maxrss."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(cfg):
    import resource
    import torch
    torch.set_num_threads(cfg['threads'])
    torch.manual_seed(0)
    kind, variant = cfg['kind'], cfg.get('variant', '')
    steps, warmup = cfg['steps'], cfg['warmup']
    out = {'engine': 'pytorch', 'torch': torch.__version__, 'variant': variant, 'threads': torch.get_num_threads()}
    times = []
    cl = variant.startswith('nhwc')
    fmt = torch.channels_last if cl else torch.contiguous_format
    if kind == 'train':
        b, c, s = cfg['batch'], cfg['channels'], cfg['size']
        model = simclr_model(torch, cfg['arch'], c, s, cfg.get('width', 1.0)).to(memory_format=fmt)
        model.train()
        opt = LARS(torch, model.named_parameters(), lr=0.3 * b / 256)
        x = (torch.rand(2 * b, c, s, s) - 0.5).contiguous(memory_format=fmt)
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            for p in model.parameters():
                p.grad = None
            loss = ntxent(torch, model(x), 0.5)
            loss.backward()
            opt.step()
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1e3)
        out['images_per_step'] = b
    elif kind == 'infer':
        b, c, s = cfg['batch'], cfg['channels'], cfg['size']
        enc, _ = build_encoder(torch, cfg['arch'], c, s)
        enc = enc.eval().to(memory_format=fmt)
        x = (torch.rand(b, c, s, s) - 0.5).contiguous(memory_format=fmt)
        with torch.no_grad():
            if variant.endswith('frozen'):
                enc = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(enc)))
            for i in range(warmup + steps):
                t0 = time.perf_counter()
                enc(x)
                if i >= warmup:
                    times.append((time.perf_counter() - t0) * 1e3)
        out['images_per_step'] = b
    elif kind == 'ntxent':
        two_n, d = 2 * cfg['batch'], cfg['dim']
        z0 = torch.rand(two_n, d) - 0.5
        for i in range(warmup + steps):
            z = z0.clone().requires_grad_(True)
            t0 = time.perf_counter()
            ntxent(torch, z, 0.5).backward()
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1e3)
        out['images_per_step'] = two_n
    elif kind == 'probe':
        import numpy as np
        n_tr, n_te, d, k = cfg['n_train'], cfg['n_test'], cfg['dim'], cfg['classes']
        x = torch.from_numpy(np.fromfile(cfg['features'], dtype=np.float32).reshape(n_tr + n_te, d))
        y = torch.from_numpy(np.fromfile(cfg['labels'], dtype=np.int32).astype(np.int64))
        xtr, ytr, xte, yte = x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:]
        for i in range(warmup + steps):
            torch.manual_seed(i)
            lin = torch.nn.Linear(d, k)
            opt = torch.optim.Adam(lin.parameters(), lr=1e-3)
            t0 = time.perf_counter()
            for _ in range(cfg['epochs']):
                perm = torch.randperm(n_tr)
                for j in range(0, n_tr, 256):
                    idx = perm[j:j + 256]
                    opt.zero_grad(set_to_none=True)
                    torch.nn.functional.cross_entropy(lin(xtr[idx]), ytr[idx]).backward()
                    opt.step()
            ms = (time.perf_counter() - t0) * 1e3
            with torch.no_grad():
                out['accuracy'] = float((lin(xte).argmax(1) == yte).float().mean())
            if i >= warmup:
                times.append(ms)
        out['images_per_step'] = n_tr
    out['step_ms'] = times
    out['median_ms'] = statistics.median(times)
    out['images_per_s'] = out['images_per_step'] / (out['median_ms'] * 1e-3)
    out['maxrss_mb'] = peak_rss_mb(resource)
    print(json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------------------------------------------

def figures(full):
    q = 1 if full else 4
    f = [
        ('train_cifar', dict(kind='train', arch='resnet18', channels=3, size=32, batch=128 // q), ['nhwc', 'nchw']),
        ('train_mnist', dict(kind='train', arch='resnet18', channels=1, size=28, batch=256 // q), ['nhwc', 'nchw']),
        ('train_demo', dict(kind='train', arch='resnet18', width=0.25, channels=1, size=20, batch=256 // q),
         ['nhwc', 'nchw']),
        ('infer_r18', dict(kind='infer', arch='resnet18', channels=3, size=32, batch=256 // q),
         ['nhwc-frozen', 'nchw-frozen', 'nhwc-eager']),
        ('infer_r50', dict(kind='infer', arch='resnet50', channels=3, size=224, batch=16),
         ['nhwc-frozen', 'nchw-frozen', 'nhwc-eager']),
    ]
    for n in (256, 512, 2048):
        f.append(('ntxent', dict(kind='ntxent', batch=n, dim=128, steps_min=10), ['']))
    # PyTorch's 100 Adam epochs take minutes; the short run does 10 (the engine's L-BFGS fit is the same)
    f.append(('probe', dict(kind='probe', n_train=60000, n_test=10000, dim=512, classes=10, epochs=100 if full else 10,
                            steps_min=1, warmup_max=0), ['']))
    return f


def torch_env(threads):
    env = dict(os.environ)
    env.pop('OPENBLAS_CORETYPE', None)
    env.pop('OPENBLAS_L2_SIZE', None)
    env['GLIBC_TUNABLES'] = 'glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=68719476736'
    env['ATEN_CPU_CAPABILITY'] = 'avx512'
    env['OMP_NUM_THREADS'] = str(threads)
    return env


def engine_env(threads):
    env = dict(os.environ)
    env.pop('OPENBLAS_CORETYPE', None)
    env.pop('OPENBLAS_L2_SIZE', None)
    env['SIMCLR_THREADS'] = str(threads)
    return env


def run_process(cmd, env):
    """Runs cmd in its own process and returns the last JSON line it printed. Each side reports its own peak
    resident set (getrusage(RUSAGE_SELF).ru_maxrss at its end) there, so the two never mix."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = p.communicate()
    if p.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (' '.join(cmd), p.returncode, err.decode(errors='replace')[-800:]))
    lines = [l for l in out.decode().splitlines() if l.startswith('{')]
    return json.loads(lines[-1])


def engine_cmd(simclr, spec, threads, steps, warmup, files):
    k = spec['kind']
    mode = {'train': 'train', 'infer': 'infer', 'ntxent': 'ntxent', 'probe': 'probe'}[k]
    cmd = [simclr, 'bench', '--json', '--mode', mode, '--threads', str(threads), '--steps', str(steps),
           '--warmup', str(warmup)]
    if k in ('train', 'infer'):
        cmd += ['--arch', spec['arch'], '--channels', str(spec['channels']), '--size', str(spec['size']),
                '--batch', str(spec['batch']), '--width', str(spec.get('width', 1.0))]
    elif k == 'ntxent':
        cmd += ['--batch', str(spec['batch']), '--dim', str(spec['dim'])]
    elif k == 'probe':
        cmd += ['--features', files[0], '--labels', files[1], '--n-train', str(spec['n_train']), '--n-test',
                str(spec['n_test']), '--dim', str(spec['dim']), '--classes', str(spec['classes'])]
    return cmd


def probe_files(spec, tmp):
    """Structured random features (class means plus rectified noise) as raw float32 / int32 files."""
    import numpy as np
    n, d, k = spec['n_train'] + spec['n_test'], spec['dim'], spec['classes']
    rng = np.random.default_rng(99)
    mu = rng.uniform(-1, 1, size=(k, d)).astype(np.float32)
    y = rng.integers(0, k, size=n).astype(np.int32)
    x = 0.1 * mu[y] + rng.uniform(-1, 1, size=(n, d)).astype(np.float32)
    x = np.where(x > 0, x, 0.1 * x).astype(np.float32)
    fx, fy = os.path.join(tmp, 'features.f32'), os.path.join(tmp, 'labels.i32')
    x.tofile(fx)
    y.tofile(fy)
    return fx, fy


def label(name, spec):
    k = spec['kind']
    if k in ('train', 'infer'):
        w = '' if spec.get('width', 1.0) == 1.0 else ' w%g' % spec['width']
        return '%s %s%s %dx%dx%d b%d' % (name, spec['arch'], w, spec['channels'], spec['size'], spec['size'],
                                        spec['batch'])
    if k == 'ntxent':
        return 'ntxent 2N=%d d=%d' % (2 * spec['batch'], spec['dim'])
    return 'probe %dx%d k=%d' % (spec['n_train'], spec['dim'], spec['classes'])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--worker', help=argparse.SUPPRESS)
    ap.add_argument('--simclr', default=os.path.join(ROOT, 'build', 'simclr'))
    ap.add_argument('--threads', default='')
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--steps', type=int, default=0, help='timed steps per process (default 1, --full 3)')
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--figures', default='train_cifar,train_mnist,train_demo,infer_r18,infer_r50,ntxent,probe')
    ap.add_argument('--full', action='store_true', help="the brief's batch sizes at 1 and all threads")
    ap.add_argument('--torch-variant', default='')
    ap.add_argument('--engine-only', action='store_true')
    ap.add_argument('--json-out', default='')
    ap.add_argument('--peak-per-thread', type=float, default=0,
                    help='GFLOP/s of one core for the peak fractions (default: the FMA loop the engine runs next to '
                         'each measurement, which reads low when other work shares the cores)')
    a = ap.parse_args()
    if a.worker:
        worker(json.loads(a.worker))
        return 0
    if not a.threads:
        a.threads = '1,%d' % os.cpu_count() if a.full else str(os.cpu_count())
    steps = a.steps or (3 if a.full else 1)
    have_torch = not a.engine_only
    if have_torch:
        # checked in a child: importing torch here would make this process large, and Linux carries a parent's
        # peak resident set into its children's ru_maxrss across fork and exec
        probe = subprocess.run([sys.executable, '-c', 'import torch, torchvision'], capture_output=True, text=True)
        if probe.returncode != 0:
            print('pytorch_compare: PyTorch is not available (%s): measuring the engine side only' %
                  (probe.stderr.strip().splitlines() or ['import failed'])[-1])
            have_torch = False
    if not os.access(a.simclr, os.X_OK):
        print('pytorch_compare: %s is not an executable (build the simclr target, or pass --simclr)' % a.simclr)
        return 2
    wanted = set(a.figures.split(','))
    threads = [int(t) for t in a.threads.split(',')]
    print('machine: %s, load average %s' % (os.uname().machine, ' '.join('%.2f' % v for v in os.getloadavg())))
    rows, raw = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec, variants in figures(a.full):
            if name not in wanted:
                continue
            files = None
            if spec['kind'] == 'probe':
                try:
                    files = probe_files(spec, tmp)
                except ImportError:
                    print('pytorch_compare: numpy is not available: the probe figure is skipped')
                    continue
            st = max(steps, spec.get('steps_min', 0))
            wu = min(a.warmup, spec.get('warmup_max', a.warmup))
            for t in threads:
                eng, tor, best = [], [], a.torch_variant or None
                for rep in range(a.reps):
                    e = run_process(engine_cmd(a.simclr, spec, t, st, wu, files), engine_env(t))
                    eng.append(e)
                    raw.append(dict(e, figure=label(name, spec), rep=rep))
                    if not have_torch:
                        continue
                    cands = [best] if best is not None else variants
                    results = []
                    for v in cands:
                        cfg = dict(spec, threads=t, steps=st, warmup=wu, variant=v)
                        if files:
                            cfg['features'], cfg['labels'] = files
                        r = run_process([sys.executable, os.path.abspath(__file__), '--worker', json.dumps(cfg)],
                                        torch_env(t))
                        raw.append(dict(r, figure=label(name, spec), rep=rep))
                        results.append(r)
                    r = min(results, key=lambda r: r['median_ms'])
                    best = r['variant']
                    tor.append(r)
                    print('  %-36s T=%d rep %d: engine %.1f ms, pytorch[%s] %.1f ms' % (
                        label(name, spec), t, rep, e['median_ms'], best, r['median_ms']), flush=True)
                peak = a.peak_per_thread * t if a.peak_per_thread else max(e['peak_gflops'] for e in eng)
                flops = eng[0]['flops_per_step']
                row = dict(figure=label(name, spec), threads=t, peak=peak,
                           e_ms=statistics.median(e['median_ms'] for e in eng),
                           e_rss=max(e['maxrss_mb'] for e in eng), e_acc=eng[-1].get('accuracy'))
                row['e_ips'] = eng[0]['images_per_step'] / (row['e_ms'] * 1e-3)
                row['e_frac'] = flops / (row['e_ms'] * 1e-3) * 1e-9 / peak if flops and peak else None
                if tor:
                    row.update(t_ms=statistics.median(r['median_ms'] for r in tor), t_var=best,
                               t_rss=max(r['maxrss_mb'] for r in tor), t_acc=tor[-1].get('accuracy'))
                    row['t_ips'] = tor[0]['images_per_step'] / (row['t_ms'] * 1e-3)
                    row['t_frac'] = flops / (row['t_ms'] * 1e-3) * 1e-9 / peak if flops and peak else None
                    row['ratio'] = row['t_ms'] / row['e_ms']
                rows.append(row)
    print('\nmedians over %d alternated repetitions; ratio = engine speed / PyTorch speed (> 1: engine faster);'
          ' peak = FMA peak measured by the engine on the same threads' % a.reps)
    hdr = '%-36s %2s %10s %10s %10s %10s %6s %6s %6s %8s %8s %s' % (
        'figure', 'T', 'eng ms', 'eng img/s', 'pt ms', 'pt img/s', 'ratio', 'eng%pk', 'pt%pk', 'eng MB', 'pt MB',
        'pytorch variant / accuracy')
    print(hdr)

    def pct(v):
        return '%5.1f%%' % (100 * v) if v is not None else '     -'

    for r in rows:
        extra = r.get('t_var', '')
        if r.get('e_acc') is not None:
            extra = 'acc engine %.2f%% pytorch %s' % (100 * r['e_acc'], '%.2f%%' % (100 * r['t_acc'])
                                                     if r.get('t_acc') is not None else '-')
        print('%-36s %2d %10.1f %10.1f %10s %10s %6s %6s %6s %8.0f %8s %s' % (
            r['figure'], r['threads'], r['e_ms'], r['e_ips'],
            '%.1f' % r['t_ms'] if 't_ms' in r else '-', '%.1f' % r['t_ips'] if 't_ips' in r else '-',
            '%.2f' % r['ratio'] if 'ratio' in r else '-', pct(r['e_frac']), pct(r.get('t_frac')), r['e_rss'],
            '%.0f' % r['t_rss'] if 't_rss' in r else '-', extra))
    # thread scaling: each figure's rows at one thread and at more were measured minutes apart (figure by figure)
    one = {r['figure']: r for r in rows if r['threads'] == 1}
    for r in rows:
        o = one.get(r['figure'])
        if r['threads'] > 1 and o:
            print('scaling 1 -> %d threads, %-36s engine %.2fx, pytorch %s' % (
                r['threads'], r['figure'], o['e_ms'] / r['e_ms'],
                '%.2fx' % (o['t_ms'] / r['t_ms']) if 't_ms' in r and 't_ms' in o else '-'))
    print('load average at the end: %s' % ' '.join('%.2f' % v for v in os.getloadavg()))
    if a.json_out:
        with open(a.json_out, 'w') as f:
            json.dump(dict(rows=rows, raw=raw), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
