"""The attribution graph of a class: personalised PageRank over the influence counts (Hohman et al. 2019)."""

from dataclasses import dataclass

import numpy as np

from .counts import THUMBNAIL


def attribution_graph(summary, class_index, min_nodes=3, max_nodes=10, damping=0.85):
    """The attribution graph of one class of ``summary`` (what `Summary.graph` returns; see there)."""
    if not 1 <= min_nodes <= max_nodes:
        raise ValueError(f"need 1 <= min_nodes <= max_nodes; got min_nodes={min_nodes}, max_nodes={max_nodes}.")
    if summary.class_counts[class_index] == 0:
        raise ValueError(f"class {class_index} has no images in this summary; pick a class with images.")
    offsets = np.concatenate([[0], np.cumsum(summary.channels)])
    personalisation = np.concatenate([counts[class_index] for counts in summary.activations]).astype(np.float64)
    if personalisation.sum() == 0:
        personalisation[:] = 1.0
    edges = [influence.entries(class_index) for influence in summary.influences]
    sources = np.concatenate([offsets[pair + 1] + following for pair, (following, _, _) in enumerate(edges)] or [[]])
    targets = np.concatenate([offsets[pair] + previous for pair, (_, previous, _) in enumerate(edges)] or [[]])
    weights = np.concatenate([counts for _, _, counts in edges] or [[]]).astype(np.float64)
    scores = personalised_pagerank(sources.astype(np.int64), targets.astype(np.int64), weights,
                                   personalisation, damping)
    per_layer = [scores[offsets[layer]:offsets[layer + 1]] for layer in range(len(summary.layers))]
    ranked = [np.lexsort((np.arange(len(layer_scores)), -layer_scores)) for layer_scores in per_layer]
    ranked = [order[per_layer[layer][order] > 0] for layer, order in enumerate(ranked)]
    for size in range(min_nodes, max_nodes + 1):
        kept = [order[:size] for order in ranked]
        connected = all(_joined(edges[pair], kept[pair + 1], kept[pair]) for pair in range(len(edges)))
        if connected:
            break
    return _build_graph(summary, class_index, kept, per_layer, edges, connected)


def _build_graph(summary, class_index, kept, per_layer, edges, connected):
    nodes, ids = [], {}
    for layer, channels in enumerate(kept):
        for channel in channels:
            ids[layer, int(channel)] = len(nodes)
            nodes.append(GraphNode(
                layer=layer, channel=int(channel), count=int(summary.activations[layer][class_index, channel]),
                score=float(per_layer[layer][channel]), neighbours=_neighbours(edges, layer, channel),
            ))
    links = []
    for pair, (following, previous, counts) in enumerate(edges):
        for target, source, count in zip(following, previous, counts):
            if (pair, int(source)) in ids and (pair + 1, int(target)) in ids:
                links.append((ids[pair, int(source)], ids[pair + 1, int(target)], int(count)))
    thumbnails = np.stack([summary.examples[node.layer].thumbnails[node.channel, 0] for node in nodes]) \
        if nodes else np.zeros((0, THUMBNAIL, THUMBNAIL, 3), np.uint8)
    return AttributionGraph(class_index=int(class_index), layers=summary.layers, nodes=nodes, edges=links,
                            connected=bool(connected), images=int(summary.class_counts[class_index]),
                            thumbnails=thumbnails)


def _neighbours(edges, layer, channel, count=5):
    if layer == 0:
        return []
    following, previous, counts = edges[layer - 1]
    chosen = following == channel
    order = np.lexsort((previous[chosen], -counts[chosen]))[:count]
    return [(int(previous[chosen][index]), int(counts[chosen][index])) for index in order]


def _joined(edges, following_kept, previous_kept):
    following, previous, _ = edges
    return bool(np.any(np.isin(following, following_kept) & np.isin(previous, previous_kept)))


def personalised_pagerank(sources, targets, weights, personalisation, damping=0.85, tolerance=1e-12,
                          max_iterations=500):
    """PageRank with restarts drawn from ``personalisation`` (power iteration).

    ``s = (1 − d)·p + d·(Wᵀ s + (mass on nodes without out-edges)·p)`` with
    ``W`` the edge weights normalised per source node and ``p`` the
    personalisation normalised to sum 1.

    Returns:
        The scores, one per node, summing to 1.
    """
    restart = np.asarray(personalisation, np.float64) / np.sum(personalisation)
    out_weight = np.bincount(sources, weights, minlength=len(restart))
    share = weights / np.where(out_weight[sources] > 0, out_weight[sources], 1.0)
    dangling = out_weight == 0
    scores = restart.copy()
    for _ in range(max_iterations):
        flow = np.bincount(targets, share * scores[sources], minlength=len(restart))
        updated = (1 - damping) * restart + damping * (flow + scores[dangling].sum() * restart)
        converged = np.abs(updated - scores).sum() < tolerance
        scores = updated
        if converged:
            break
    return scores


@dataclass
class GraphNode:
    """One channel in an attribution graph.

    Attributes:
        layer: position of its layer in the summary's ``layers``.
        channel: channel index in that layer.
        count: images of the class that counted this channel.
        score: its personalised PageRank.
        neighbours: ``(channel, count)`` of the previous layer's channels
            that most often were among its top influences, most first.
    """

    layer: int
    channel: int
    count: int
    score: float
    neighbours: list


@dataclass
class AttributionGraph:
    """The attribution graph of one class (see `Summary.graph`).

    Attributes:
        class_index: the class.
        layers: layer names (columns).
        nodes: the kept channels, layer by layer, best score first.
        edges: ``(source, target, count)`` node positions: ``source`` (a
            channel of one layer) was counted ``count`` times among the top
            influences of ``target`` (a channel of the next layer).
        connected: whether every pair of consecutive layers is joined.
        images: the class's number of images.
        thumbnails: each node's top dataset example ``(nodes, T, T, 3)`` uint8.
    """

    class_index: int
    layers: tuple
    nodes: list
    edges: list
    connected: bool
    images: int
    thumbnails: np.ndarray

    def to_dict(self):
        """Plain JSON-ready data (what the widget draws)."""
        return {
            "class_index": self.class_index, "layers": list(self.layers), "connected": self.connected,
            "images": self.images,
            "nodes": [dict(id=index, layer=node.layer, channel=node.channel, count=node.count, score=node.score,
                           neighbours=[dict(channel=channel, count=count) for channel, count in node.neighbours])
                      for index, node in enumerate(self.nodes)],
            "edges": [dict(source=source, target=target, weight=weight) for source, target, weight in self.edges],
        }

    def plot(self, ax=None, title=None):
        """Draw the graph with matplotlib: layers as columns, nodes as their top example.

        Returns:
            The axes.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(2.2 * len(self.layers), 5))
        positions = _column_positions(self.nodes)
        heaviest = max((weight for _, _, weight in self.edges), default=1)
        for source, target, weight in self.edges:
            (x0, y0), (x1, y1) = positions[source], positions[target]
            ax.plot([x0, x1], [y0, y1], color="tab:blue", alpha=0.5, linewidth=0.3 + 4.0 * weight / heaviest,
                    zorder=1)
        half = 0.35
        for index, node in enumerate(self.nodes):
            x, y = positions[index]
            ax.imshow(self.thumbnails[index], extent=(x - half, x + half, y + half, y - half), zorder=2)
            ax.text(x + half + 0.05, y, f"#{node.channel}\n{node.count}×", va="center", fontsize=7, zorder=3)
        ax.set_xticks([COLUMN_SPACING * layer for layer in range(len(self.layers))], self.layers, fontsize=8)
        ax.set_yticks([])
        ax.set_xlim(-0.6, COLUMN_SPACING * (len(self.layers) - 1) + 1.0)
        rows = max((sum(node.layer == layer for node in self.nodes) for layer in range(len(self.layers))), default=1)
        ax.set_ylim(rows - 0.4, -0.6)
        ax.set_title(title or f"class {self.class_index} ({self.images} images)")
        return ax


COLUMN_SPACING = 2.0  # plot units between layer columns (one unit per node row)


def _column_positions(nodes):
    rows = {}
    positions = []
    for node in nodes:
        positions.append((COLUMN_SPACING * node.layer, rows.get(node.layer, 0)))
        rows[node.layer] = rows.get(node.layer, 0) + 1
    return positions
