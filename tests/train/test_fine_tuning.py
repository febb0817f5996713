"""Fine-tuning's preparation: batch norms matched to the training scenes keep what the network computes."""

import copy

import numpy as np
import torch
from PIL import Image, ImageOps

from train.detector import match_batch_norms

PHOTO = Image.effect_noise((96, 96), 80).convert("RGB")


def test_batch_norms_matched_to_samples_keep_what_the_network_computes(tiny_yolo_path):
    from ultralytics import YOLO

    network = YOLO(str(tiny_yolo_path)).model.float().eval()
    stem = network.model[0]  # a convolution and its batch norm
    # As in weights rebuilt from a fused export: identity statistics, the shift folded into the bias.
    stem.bn.running_mean.zero_(), stem.bn.running_var.fill_(1.0), stem.bn.bias.data.fill_(0.3)
    samples = [PHOTO, ImageOps.mirror(PHOTO), Image.effect_noise((96, 96), 30).convert("RGB")]
    batch = torch.from_numpy(np.stack([np.asarray(s.resize((64, 64)), np.float32) / 255 for s in samples]))
    batch = batch.permute(0, 3, 1, 2)
    with torch.no_grad():
        before, stem_before = network(batch)[0], stem(batch)
        unmatched = copy.deepcopy(stem).train()  # (a training pass moves the stored statistics too)
        assert not torch.allclose(unmatched(batch), stem_before, atol=1e-2)  # training would change the network
        match_batch_norms(network, samples, 64)
        assert torch.allclose(network(batch)[0], before, rtol=1e-3, atol=1e-3)  # the same network
        stem.train()
        assert torch.allclose(stem(batch), stem_before, rtol=1e-3, atol=1e-2)  # and so it starts training
