#!/usr/bin/python3
"""pth_to_safetensors.py: converts a PyTorch checkpoint (.pth/.pt) holding a ResNet state_dict into a safetensors
file that `simclr` loads (embed, predict, knn, probe, finetune).

Accepted inputs: a state_dict, or a dict with the state_dict under 'state_dict' (as the official SimCLR weights
converted to PyTorch are saved) or 'model'. "module." prefixes (from DataParallel) are stripped. Tensors are
written as they are (dtype, shape, torchvision names, OIHW convolution weights), following the format's layout
rules: an 8-byte little-endian header length, a JSON header padded with spaces to a multiple of 8, tensors ordered
by descending dtype alignment then name, data little-endian and contiguous. Needs PyTorch only to unpickle the input;
the safetensors package is not needed. This tool never modifies its input and writes the output atomically."""
import argparse
import json
import os
import struct
import sys
import tempfile

DTYPES = {  # torch dtype name -> (safetensors name, bytes)
    "float32": ("F32", 4), "float64": ("F64", 8), "float16": ("F16", 2), "bfloat16": ("BF16", 2),
    "int64": ("I64", 8), "int32": ("I32", 4), "int16": ("I16", 2), "int8": ("I8", 1), "uint8": ("U8", 1),
    "bool": ("BOOL", 1),
}


def state_dict_of(obj):
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        return obj
    if hasattr(obj, "state_dict"):
        return obj.state_dict()
    raise ValueError("the file holds a %s, not a state_dict" % type(obj).__name__)


def tensor_bytes(t):
    import torch
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret as int16
        t = t.view(torch.int16)
    data = t.numpy().tobytes()
    if sys.byteorder != "little" and t.element_size() > 1:
        import numpy
        data = numpy.frombuffer(data, dtype=t.numpy().dtype).byteswap().tobytes()
    return data


def convert(src, dst, keep_prefix=False):
    import torch
    obj = torch.load(src, map_location="cpu")
    sd = state_dict_of(obj)
    tensors = {}
    for name, t in sd.items():
        if not hasattr(t, "dtype"):
            continue  # e.g. an epoch counter stored beside the weights
        if not keep_prefix and name.startswith("module."):
            name = name[len("module."):]
        dt = str(t.dtype).replace("torch.", "")
        if dt not in DTYPES:
            raise ValueError("tensor %s has dtype %s, which safetensors cannot hold here" % (name, dt))
        if name in tensors:
            raise ValueError("tensor %s appears twice after stripping 'module.'" % name)
        tensors[name] = (DTYPES[dt], list(t.shape), tensor_bytes(t))
    order = sorted(tensors, key=lambda n: (-tensors[n][0][1], n))
    header, offset = {}, 0
    for n in order:
        (dtype, _), shape, data = tensors[n]
        header[n] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    folder = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".pth_to_safetensors.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for n in order:
                f.write(tensors[n][2])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        os.unlink(tmp)
        raise
    return len(order)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Example: pth_to_safetensors.py r50_1x_sk0.pth r50_1x.safetensors")
    ap.add_argument("input", help="PyTorch checkpoint (.pth, .pt)")
    ap.add_argument("output", help="safetensors file to write")
    ap.add_argument("--keep-prefix", action="store_true", help="keep 'module.' prefixes")
    args = ap.parse_args()
    try:
        n = convert(args.input, args.output, args.keep_prefix)
    except ImportError:
        print("pth_to_safetensors: PyTorch is needed to read .pth files (pip install torch, or apt install "
              "python3-torch)", file=sys.stderr)
        return 1
    except Exception as e:  # one clear line instead of a traceback
        print("pth_to_safetensors: %s: %s" % (args.input, e), file=sys.stderr)
        return 1
    print("wrote %s: %d tensors" % (args.output, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
