"""The attribution graph: personalised PageRank, per-layer thresholds until layers connect, the class map."""

import numpy as np
import pytest

from xai_widgets.summit import Examples, SparseCounts, Summary, personalised_pagerank


def test_personalised_pagerank_solves_its_linear_equation():
    rng = np.random.default_rng(0)
    nodes = 7
    sources, targets = np.nonzero(rng.random((nodes, nodes)) < 0.35)
    keep = sources != 6  # node 6 has no out-edges: its mass restarts from the personalisation
    sources, targets = sources[keep], targets[keep]
    weights = rng.integers(1, 5, len(sources)).astype(np.float64)
    personalisation = rng.random(nodes)
    damping = 0.8
    scores = personalised_pagerank(sources, targets, weights, personalisation, damping)
    restart = personalisation / personalisation.sum()
    step = np.zeros((nodes, nodes))  # step[i, j]: probability to walk from i to j
    np.add.at(step, (sources, targets), weights)
    dangling = step.sum(axis=1) == 0
    step[~dangling] /= step[~dangling].sum(axis=1, keepdims=True)
    step[dangling] = restart
    expected = np.linalg.solve(np.eye(nodes) - damping * step.T, (1 - damping) * restart)
    np.testing.assert_allclose(scores, expected, atol=1e-10)
    assert scores.sum() == pytest.approx(1.0, abs=1e-10)


def hand_summary():
    """Three layers of 4 channels, one class; counts chosen so the top channel of layer 1 is a dead end."""
    activations = [np.array([[5, 1, 3, 0]]), np.array([[40, 6, 0, 0]]), np.array([[4, 1, 0, 0]])]
    first = SparseCounts((1, 4, 4))      # layer 1 <- layer 0: (next, previous, count)
    for following, previous, count in [(1, 0, 4), (1, 2, 1), (2, 3, 2)]:
        first.add(np.zeros(count, int), np.full(count, following), np.full(count, previous))
    second = SparseCounts((1, 4, 4))     # layer 2 <- layer 1
    for following, previous, count in [(0, 1, 3), (1, 1, 1)]:
        second.add(np.zeros(count, int), np.full(count, following), np.full(count, previous))
    examples = [Examples.empty(4, 2, size=4) for _ in range(3)]
    return Summary(layers=("l0", "l1", "l2"), channels=(4, 4, 4), class_counts=np.array([10]),
                   activations=activations, influences=[first, second], examples=examples,
                   options={"influence": "gradient"}, model_name="hand")


def test_each_layer_keeps_more_channels_until_consecutive_layers_connect():
    graph = hand_summary().graph(0, min_nodes=1, max_nodes=4)
    kept = {(node.layer, node.channel) for node in graph.nodes}
    # top-1 per layer is (0,0), (1,0), (2,0): channel 0 of l1 feeds nothing, so one channel is not enough;
    # with two per layer, l1's channel 1 joins l0's channel 0 and l2's channel 0.
    assert kept == {(0, 0), (0, 2), (1, 0), (1, 1), (2, 0), (2, 1)}
    assert graph.connected
    named = {(graph.nodes[s].layer, graph.nodes[s].channel, graph.nodes[t].layer, graph.nodes[t].channel): w
             for s, t, w in graph.edges}
    assert named == {(0, 0, 1, 1): 4, (0, 2, 1, 1): 1, (1, 1, 2, 0): 3, (1, 1, 2, 1): 1}


def test_nodes_carry_count_score_and_their_strongest_inputs():
    summary = hand_summary()
    graph = summary.graph(0, min_nodes=2)
    node = next(node for node in graph.nodes if (node.layer, node.channel) == (1, 1))
    assert node.count == 6
    assert node.neighbours == [(0, 4), (2, 1)]
    scores = [node.score for node in graph.nodes if node.layer == 1]
    assert scores == sorted(scores, reverse=True) and all(score > 0 for score in scores)
    data = graph.to_dict()
    assert data["layers"] == ["l0", "l1", "l2"] and len(data["nodes"]) == len(graph.nodes)
    assert {"source", "target", "weight"} <= set(data["edges"][0])


def test_a_graph_that_never_connects_says_so():
    summary = hand_summary()
    summary.influences[1] = SparseCounts((1, 4, 4))   # nothing feeds layer 2
    graph = summary.graph(0, min_nodes=1, max_nodes=3)
    assert not graph.connected
    assert max(sum(node.layer == layer for node in graph.nodes) for layer in range(3)) == 3


def test_the_class_map_is_the_pca_of_the_activation_rates():
    rng = np.random.default_rng(1)
    activations = [rng.integers(0, 20, (5, 6)), rng.integers(0, 20, (5, 3))]
    counts = np.array([20, 25, 0, 30, 22])
    summary = Summary(layers=("a", "b"), channels=(6, 3), class_counts=counts, activations=activations,
                      influences=[SparseCounts((5, 3, 6))], examples=[Examples.empty(6, 1), Examples.empty(3, 1)])
    points = summary.embedding()
    assert np.isnan(points[2]).all()
    rates = np.concatenate(activations, axis=1)[counts > 0] / counts[counts > 0, None]
    centred = rates - rates.mean(axis=0)
    # the map keeps the distances of the projection on the two main directions
    _, singular, _ = np.linalg.svd(centred)
    present = points[counts > 0]
    np.testing.assert_allclose(np.linalg.norm(present, axis=0), singular[:2], rtol=1e-9)
    np.testing.assert_allclose(present.T @ present, np.diag(singular[:2] ** 2), atol=1e-9)


def test_bad_graph_requests_are_refused():
    summary = hand_summary()
    with pytest.raises(ValueError, match="class_index"):
        summary.graph(3)
    with pytest.raises(ValueError, match="min_nodes"):
        summary.graph(0, min_nodes=4, max_nodes=2)
    summary.class_counts = np.array([0])
    with pytest.raises(ValueError, match="no images"):
        summary.graph(0)
