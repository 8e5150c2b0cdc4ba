"""Skeleton graphs for the GCN baselines, built from harness.skeletons layouts.

One convention throughout: an adjacency matrix is indexed ``A[target, source]``, so a graph
convolution computes ``out[..., u] = sum_v A[u, v] * x[..., v]``. Layout edges are
(child, parent) pairs of a spanning tree.

- ST-GCN partitions (``stgcn_partitions``): "uniform" (K=1), "distance" (K=max_hop+1) and
  "spatial" (K=2*max_hop+1), normalised so that each joint averages its neighbours (rows sum to
  1 over the partitions together), as ST-GCN's ``A D^-1`` is in its own [source, target] order.
- CTR-GCN subsets (``ctrgcn_subsets``): identity, inward (child -> parent) and outward
  (parent -> child), each column divided by the source's out-degree, as CTR-GCN's
  ``normalize_digraph``.
- HD-GCN hierarchy (``hierarchy_groups``, ``hdgcn_hierarchy``): joints banded by graph distance
  from a centre-of-mass group; see docs/models-skeleton.md for the 2-D design.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.skeletons import Layout

STRATEGIES = ("uniform", "distance", "spatial")

# Centre-of-mass group per layout for the HD-GCN hierarchy. COCO-17 and OpenPose-18 have no
# mid-hip joint: both hips together stand in for it (the bands are then the graph distances from
# a virtual mid-hip joined to both hips, minus one). Halpe-26 has a real hip centre.
HIERARCHY_CENTERS: dict[str, tuple[str, ...]] = {
    "coco17": ("left_hip", "right_hip"),
    "openpose18": ("right_hip", "left_hip"),
    "halpe26": ("hip",),
}


def edge_matrix(links: Sequence[tuple[int, int]], num_joints: int) -> np.ndarray:
    """(V, V) 0/1 matrix with ``A[target, source] = 1`` for each (source, target) link."""
    a = np.zeros((num_joints, num_joints))
    for source, target in links:
        a[target, source] = 1.0
    return a


def normalize_columns(a: np.ndarray) -> np.ndarray:
    """Divide each column by its sum; all-zero columns stay zero."""
    s = a.sum(0)
    return a / np.where(s > 0, s, 1.0)


def normalize_rows(a: np.ndarray) -> np.ndarray:
    """Divide each row by its sum; all-zero rows stay zero."""
    s = a.sum(1, keepdims=True)
    return a / np.where(s > 0, s, 1.0)


def distances_from(layout: Layout, sources: Sequence[int]) -> np.ndarray:
    """(V,) hops from the nearest of ``sources`` along the layout's edges (inf if unreachable)."""
    neighbours: list[list[int]] = [[] for _ in range(layout.num_joints)]
    for a, b in layout.edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    dist = np.full(layout.num_joints, np.inf)
    frontier = sorted(set(sources))
    dist[frontier] = 0
    d = 0
    while frontier:
        d += 1
        frontier = sorted({n for j in frontier for n in neighbours[j] if dist[n] == np.inf})
        dist[frontier] = d
    return dist


def hop_distance(layout: Layout) -> np.ndarray:
    """(V, V) shortest-path hops between every pair of joints (inf if unreachable)."""
    return np.stack([distances_from(layout, [j]) for j in range(layout.num_joints)])


def stgcn_partitions(layout: Layout, strategy: str = "uniform", max_hop: int = 1) -> np.ndarray:
    """ST-GCN's (K, V, V) partitioned adjacency, ``A[k, target, source]``.

    "uniform": one matrix over all joints within ``max_hop`` (self included). "distance": one per
    hop 0..max_hop. "spatial": hop 0 (the joint itself), then per hop the neighbours at least as
    far from the layout's centre as the joint, and those nearer. All of them sum to "uniform".
    The spatial split uses true graph distances to the centre; the official code caps those at
    max_hop (docs/models-skeleton.md).
    """
    if strategy not in STRATEGIES:
        raise AmgeError(f"Unknown graph strategy {strategy!r}; strategies: "
                        f"{', '.join(STRATEGIES)}", code="E820")
    if max_hop < 1:
        raise AmgeError(f"max_hop must be at least 1, but got {max_hop}", code="E820")
    hops = hop_distance(layout)
    near = normalize_rows((hops <= max_hop).astype(float))  # each joint averages its neighbourhood
    if strategy == "uniform":
        return near[None]
    if strategy == "distance":
        return np.stack([np.where(hops == h, near, 0.0) for h in range(max_hop + 1)])
    to_center = distances_from(layout, [layout.center])
    farther = to_center[None, :] >= to_center[:, None]  # [target, source]: source no nearer
    parts = [np.where(hops == 0, near, 0.0)]
    for h in range(1, max_hop + 1):
        at_h = hops == h
        parts += [np.where(at_h & farther, near, 0.0), np.where(at_h & ~farther, near, 0.0)]
    return np.stack(parts)


def ctrgcn_subsets(layout: Layout) -> np.ndarray:
    """CTR-GCN's (3, V, V) subsets: identity, inward (child -> parent), outward (parent -> child)."""
    v = layout.num_joints
    inward = list(layout.edges)
    outward = [(parent, child) for child, parent in inward]
    return np.stack([np.eye(v), normalize_columns(edge_matrix(inward, v)),
                     normalize_columns(edge_matrix(outward, v))])


def joint_indices(layout: Layout, names: Sequence[str]) -> tuple[int, ...]:
    unknown = [n for n in names if n not in layout.joints]
    if unknown or not names:
        raise AmgeError(f"Hierarchy centre {list(names)} must name joints of layout "
                        f"{layout.name}: {', '.join(layout.joints)}", code="E820")
    return tuple(layout.joints.index(n) for n in names)


def default_center(layout: Layout) -> tuple[str, ...]:
    return HIERARCHY_CENTERS.get(layout.name, (layout.joints[layout.center],))


def max_hierarchy_layers(layout: Layout, center: Sequence[int]) -> int:
    return int(distances_from(layout, center).max())


def hierarchy_groups(layout: Layout, center: Sequence[int],
                     num_layers: int | None = None) -> tuple[tuple[int, ...], ...]:
    """HD-GCN's centre-of-mass groups: group d holds the joints d hops from ``center``.

    ``num_layers`` L gives L+1 groups; joints farther than L hops join the last group (the
    official NTU-25 groups for centre joint 1 do the same). Default: as many as the graph allows.
    """
    dist = distances_from(layout, center)
    if np.isinf(dist).any():
        raise AmgeError(f"Layout {layout.name} is not connected; the hierarchy needs every joint "
                        f"reachable from the centre", code="E820")
    depth = int(dist.max())
    num_layers = depth if num_layers is None else num_layers
    if not 1 <= num_layers <= depth:
        names = [layout.joints[j] for j in center]
        raise AmgeError(f"hierarchy_layers must be between 1 and {depth} for layout "
                        f"{layout.name} with centre {names}, but got {num_layers}", code="E820")
    band = np.minimum(dist, num_layers).astype(int)
    return tuple(tuple(np.flatnonzero(band == d).tolist()) for d in range(num_layers + 1))


def hdgcn_hierarchy(groups: Sequence[Sequence[int]], num_joints: int) -> np.ndarray:
    """HD-GCN's (L, 3, V, V) hierarchy, ``A[layer, subset, target, source]``.

    Layer i joins groups i and i+1: subset 0 is the identity on both groups, subset 1 sends
    group i -> group i+1 (outward), subset 2 sends group i+1 -> group i (inward), each column
    divided by the source's out-degree.
    """
    layers = []
    for inner, outer in zip(groups[:-1], groups[1:]):
        ident = edge_matrix([(j, j) for j in (*inner, *outer)], num_joints)
        fwd = normalize_columns(edge_matrix([(j, k) for j in inner for k in outer], num_joints))
        rev = normalize_columns(edge_matrix([(k, j) for j in inner for k in outer], num_joints))
        layers.append(np.stack([ident, fwd, rev]))
    return np.stack(layers)
