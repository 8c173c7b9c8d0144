"""What the command line shows before it runs anything: the commands (one place registers them),
the claims ``advdyn check`` takes, the small vocabularies of the flags' choices and the help of
the shared configuration fields.

This module imports nothing heavy, so ``advdyn --help``, ``advdyn check --help`` and an argument
error answer without loading torch. Each vocabulary here mirrors the library's own (the claims
registry and its old ids, :data:`advdyn.geometry.DTYPES`, :data:`advdyn.pgd.RULES`,
:data:`advdyn.runner.EXECUTORS`, :data:`advdyn.pipeline.PROFILES`,
:data:`advdyn.models.checks.DEVICES`); ``tests/test_cli_fast.py``
checks that they agree.
"""

from __future__ import annotations

#: Every command: its name → (its module, the one line ``advdyn --help`` shows). The module has
#: ``register(subparsers)``, which adds the command's parser (with this help) and its ``run``.
COMMANDS: dict[str, tuple[str, str]] = {
    "pgd": ("advdyn.cli.cmd_pgd", "run PGD on a problem file (exactly --steps steps)"),
    "diagnose": ("advdyn.cli.cmd_diagnose",
                 "λ*, Γ, Ξ, tangent eigenvalues and type at a point δ"),
    "census": ("advdyn.cli.cmd_census", "local minima, maxima and saddles of L on the sphere"),
    "check": ("advdyn.cli.cmd_check",
              "run the experiment of one claim of the paper (advdyn check --help lists them)"),
    "sweep": ("advdyn.cli.cmd_sweep", "run a grid over an experiment's parameters"),
    "reproduce": ("advdyn.cli.cmd_reproduce", "run every experiment and write DIR/report.html"),
    "fig1": ("advdyn.cli.cmd_fig1",
             "Figure 1: landscapes of L and PGD trajectories on simulated data (d = 2)"),
    "fig2": ("advdyn.cli.cmd_fig2",
             "Figure 2: escape from certified local maxima of L on MNIST across scales"),
    "fig3": ("advdyn.cli.cmd_fig3",
             "Figure 3 and Question 2: adversarial training across input scales"),
    "phase": ("advdyn.cli.cmd_phase",
              "phase diagram: local minima of L and escape steps over scale × ratio"),
    "train": ("advdyn.cli.cmd_train",
              "Madry-style PGD adversarial training of an MNIST CNN (resumable)"),
    "bench": ("advdyn.cli.cmd_bench",
              "time every case side by side with the peers and the hardware floor"),
    "audit": ("advdyn.cli.cmd_audit",
              "audit any library's attack: indicators of attack failure and stationarity"),
}

#: The claims of the register, in its order: (id, the paper's place).
CLAIMS: tuple[tuple[str, str], ...] = (
    ("fig1", "Figure 1 caption"), ("L4.1", "Lemma 4.1"), ("L4.2", "Lemma 4.2"),
    ("L4.2-literal", "Lemma 4.2"), ("L4.3", "Lemma 4.3"), ("L4.3-literal", "Lemma 4.3"),
    ("L4.4", "Lemma 4.4"),
    ("L4.5", "Lemma 4.5"), ("T3.1", "Theorem 3.1"), ("C3.1", "Corollary 3.1"),
    ("T5.1", "Theorem 5.1"), ("on-sphere", "§3.1"), ("concentration", "§1.1"),
    ("eps-only", "§5.1.1"), ("angle", "§5.1.1"), ("s5.1-minima", "§5.1.1"),
    ("s5.1-escape", "§5.1.2"), ("fig1-ratio", "Fig. 1 caption"), ("fig2a", "Fig. 2 caption"),
    ("fig2b", "Fig. 2 caption"), ("fig2c", "Fig. 2 caption"), ("fig2-scale", "Fig. 2 caption"),
    ("at-scale", "abstract, §6"), ("sphere-at", "§3.1"), ("fig3", "Fig. 3 caption"),
    ("fig3-scale", "Fig. 3 caption"), ("q1-cnn", "Question 1"),
    ("concentration-cnn", "§1.1"),
)

#: The paper's labels that were claim ids before ids became typable: accepted by ``advdyn check``
#: (with a note naming the new id) for one release (:data:`advdyn.claims.registry.OLD_IDS`).
OLD_CLAIM_IDS: dict[str, str] = {"Fig. 1": "fig1", "§5.1 (minima)": "s5.1-minima",
                                 "§5.1 (escape)": "s5.1-escape"}

#: ``--dtype`` choices (:data:`advdyn.geometry.DTYPES`).
DTYPE_NAMES = ("float32", "float64")
#: ``advdyn pgd --rule`` choices (:data:`advdyn.pgd.RULES`).
PGD_RULES = ("normalized", "raw", "sign")
#: ``--executor`` choices (:data:`advdyn.runner.EXECUTORS`).
EXECUTOR_NAMES = ("local", "inline", "dask")
#: ``advdyn reproduce --profile`` choices (:data:`advdyn.pipeline.PROFILES`).
PROFILES = ("quick", "full", "reference")
#: ``--device`` choices (:data:`advdyn.models.checks.DEVICES`).
DEVICE_NAMES = ("cpu", "cuda", "auto")

#: The help of the configuration fields the two-layer experiments share (``--FIELD`` flags).
FIELD_HELP = {
    "scales": "input scales ‖x‖ (rows of the grid)",
    "ratios": "ratios r, ε = r‖x‖ (columns of the grid)",
    "seed": "seed of the network, the direction of x and the random starts",
    "seeds": "number of seeds (networks and directions): seed, seed+1, ...",
    "dim": "input dimension d (d > 2 uses the multistart census)",
    "width": "hidden width m of the two-layer network",
    "loss": "adversarial loss ℓ (bce: critical points of L are exactly those of f)",
    "label": "label y",
    "kappa": "Xavier weight scale κ (w_r ~ N(0, κ²I); default d^-1/2)",
    "gamma": "output weight γ (a_r = ±γ; default m^-1/2)",
    "rule": "PGD step rule: normalized δ - ρε∇L/‖∇L‖, raw δ - ρε²∇L",
    "rho": "relative step ρ",
    "raw_eta": "phase diagram, raw-fixed convention: one step η at every scale and ratio",
    "raw_rho": "phase diagram, raw-ε² convention: η = raw_rho·ε²",
    "control_gamma": "phase diagram's and Figure 1's control arm: output weight γ_c of its "
                     "linear network f(z) = γ_c wᵀz (a landscape with one minimum at every "
                     "scale)",
    "networks": "Figure 1's claim: networks (seeds seed, seed+1, ...) whose local minima are "
                "counted in every panel, both arms",
    "steps": "PGD step budget per trajectory",
    "trajectories": "PGD trajectories per panel (uniform starts in the open disk)",
    "tol": "settled = stays within tol·ε of a local minimum of L on the sphere",
    "gap_fraction": "phase diagram: escaped = ℓ covered this share of its gap to the best minimum",
    "perturb": "kick off each local maximum: δ₀ = P_B(δ* + perturb·ε·v), v uniform unit",
    "angle_density": "circle scan: grid points per softplus transition width 1/(ε max‖w_r‖)",
    "min_angles": "circle scan: fewest angles",
    "max_angles": "circle scan: most angles",
    "grid": "contour grid points per axis",
    "census_starts": "multistart census (d > 2): uniform starts (default: the census's own)",
}
