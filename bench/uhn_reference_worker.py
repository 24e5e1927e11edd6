"""Run the authors' Universal Hopfield Networks capacity function on given settings (torch side).

Started by bench/uhn_side_by_side.py with a separate Python that has torch: it imports
`functions.py` from the authors' checkout at run time (nothing of theirs is copied here), runs
their `PC_retrieve_store_continuous` single-threaded on the stored blocks the driver hands it
(the same mnist-5k arrays ambench uses) and prints one JSON object: a success rate per setting.

    TORCH_PYTHON bench/uhn_reference_worker.py AUTHORS_DIR JOB.json BLOCKS.npz
"""

import json
import sys
import time


def main(authors: str, job_file: str, blocks_file: str) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, authors)
    import matplotlib

    matplotlib.use("Agg")  # their module imports pyplot; nothing is plotted (num_plot=0)
    import functions as f  # the authors' functions.py

    sims = {"dot": f.normalized_dot_product, "raw-dot": f.dot_product_distance,
            "euclidean": f.euclidean_distance, "manhattan": f.manhatten_distance}
    seps = {"identity": f.separation_identity, "square": f.separation_square, "cube": f.separation_cube,
            "quartic": f.separation_quartic, "poly10": f.separation_ten, "sqrt": f.separation_sqrt,
            "log": f.separation_log, "softmax": f.separation_softmax, "max": f.separation_max}
    noises = {"gaussian-abs": f.gaussian_perturb_image, "mask_rows": f.mask_continuous_img}

    job = json.load(open(job_file))
    blocks = np.load(blocks_file)
    out = []
    t0 = time.perf_counter()
    for s in job["settings"]:
        stored = torch.tensor(blocks[f"seed{s['seed']}_k{s['n_memories']}"])
        torch.manual_seed(s["seed"])
        np.random.seed(s["seed"])
        rate = f.PC_retrieve_store_continuous(
            stored, s["n_memories"], beta=1, num_plot=0, f=sims[s["similarity"]],
            image_perturb_fn=noises[s["noise_kind"]], sigma=s["noise_level"], sep_fn=seps[s["separation"]],
            sep_param=job["softmax_beta"] if s["separation"] == "softmax" else 1, use_norm=True,
            ERROR_THRESHOLD=s["threshold"])
        out.append(s | {"rate": float(rate)})
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "seconds": time.perf_counter() - t0, "results": out}))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
