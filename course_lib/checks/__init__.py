"""Checks for the exercises of notebooks 01-10, one module per notebook (`nb05.py` holds 05.1-05.3).

Each check accepts a correct answer written in any reasonable way (Python or NumPy numbers, 0-d
tensors, arrays, float32 or float64) and answers a typical mistake with a hint that names it. A stub
that still raises NotImplementedError is reported, not failed, so the notebooks run top to bottom
before the learner has written anything. The shared helpers are in `_core.py`.
"""

from ._core import CheckError, CheckFailed, CheckInterrupted
from .nb01 import check_chain_gradient, check_plain_identity, check_typical_gradient
from .nb02 import check_block_params, check_identity_race, check_resblock
from .nb03 import check_option_a, check_output_size, check_stage_sizes
from .nb04 import _resnet_param_formula, check_bottleneck, check_param_count, check_resnet_params
from .nb05 import check_batchnorm, check_scale_invariance, check_zero_gamma
from .nb06 import check_fixed_resnet18, check_param_shares, check_stage
from .nb07 import check_confusion, check_paired_interval, check_seeds_for_half_width
from .nb08 import check_gradient_ratio_guess, check_projection_params, check_receptive_field
from .nb09 import check_caffe_input, check_fold_bn, check_top5
from .nb10 import check_filter_normalize, check_path_counts, check_preact_block

__all__ = [name for name in dir() if name.startswith("check_")] + ["CheckError", "CheckFailed", "CheckInterrupted"]
