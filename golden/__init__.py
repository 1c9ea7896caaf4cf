"""xnorgen's golden model: conventions, BNN layers, exact folding, integer model, programs, training.

Idle OpenMP threads must sleep, not spin: on a shared 2-core machine a spinning torch thread made
training 25x slower (1.7 against 46 steps/s measured). Set here so it precedes any torch import
that goes through this package; a user's explicit OMP_WAIT_POLICY wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
