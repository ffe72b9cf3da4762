"""Loss-curve diagnosis on synthetic curves of each kind (the patterns of docs/lab1.md)."""

from __future__ import annotations

import math

import numpy as np

from trainers.diagnosis import diagnose

STEPS = list(range(10, 310, 10))


def curve(values):
    return list(zip(STEPS[: len(values)], [float(v) for v in values]))


def test_healthy_curve():
    train = curve([2.5 * math.exp(-i / 10) + 1.0 for i in range(30)])
    evals = curve([2.6 * math.exp(-i / 10) + 1.1 for i in range(0, 30, 3)])
    d = diagnose(train, evals)
    assert d.kind == "healthy"


def test_overfitting_names_the_best_step():
    train = curve([2.5 * math.exp(-i / 8) + 0.3 for i in range(30)])
    ev_values = [2.0, 1.6, 1.4, 1.3, 1.35, 1.5, 1.7]
    evals = [(s, v) for s, v in zip([50, 100, 150, 200, 250, 300, 350], ev_values)]
    d = diagnose(train, evals)
    assert d.kind == "overfitting" and d.best_step == 200 and "200" in d.message


def test_unstable_swinging_curve_says_lower_the_learning_rate():
    # the lab's picture of an unstable curve: large swings over a few steps, not just batch-to-batch noise
    train = curve([2.0 + 0.9 * math.sin(i / 1.5) for i in range(30)])
    d = diagnose(train)
    assert d.kind == "unstable" and "learning rate" in d.message


def test_noisy_batches_with_a_falling_eval_loss_are_healthy():
    rng = np.random.default_rng(0)
    train = curve([2.2 - 0.01 * i + rng.choice([-0.7, 0.0, 0.8]) for i in range(20)])
    evals = [(5, 1.90), (10, 1.86), (15, 1.83), (20, 1.80)]
    d = diagnose(train, evals)
    assert d.kind == "healthy" and "noisy" in d.message and d.best_step == 20


def test_swinging_eval_loss_does_not_excuse_a_swinging_train_loss():
    train = curve([2.0 + 0.9 * math.sin(i / 1.5) for i in range(30)])
    evals = [(50, 2.0), (100, 2.6), (150, 1.7), (200, 2.5)]
    assert diagnose(train, evals).kind == "unstable"


def test_loss_that_falls_then_climbs_back_is_unstable():
    train = curve([2.5 - 0.1 * i for i in range(15)] + [1.0 + 0.12 * i for i in range(15)])
    assert diagnose(train).kind == "unstable"


def test_flat_curve_points_at_template_and_mask():
    train = curve([2.80 - 0.001 * i for i in range(30)])
    d = diagnose(train)
    assert d.kind == "flat" and "template" in d.message and "mask" in d.message


def test_too_few_points():
    assert diagnose(curve([2.0, 1.9])).kind == "too_short"
