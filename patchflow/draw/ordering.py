"""The two small optimisations of the layout: box order within layers, and x positions.

Crossing reduction is the barycentre heuristic (Sugiyama, Tagawa and Toda, 1981) with ports
counted, so wires from a left outlet pull their targets left; placement is least-squares
isotonic regression. Both are exact or standard enough to test on their own.
"""

from __future__ import annotations

from collections import defaultdict


def isotonic_place(wanted: list[float], gaps: list[float]) -> list[float]:
    """Closest positions (least squares) to `wanted` keeping order and x[i+1] >= x[i] + gap[i].

    Subtracting each box's least offset from the left turns the gaps into plain order
    (y[i+1] >= y[i]), which pooling adjacent violators solves exactly in one pass.
    """
    offsets = [0.0]
    for gap in gaps:
        offsets.append(offsets[-1] + gap)
    blocks: list[list[float]] = []  # [mean, count]
    for w, off in zip(wanted, offsets, strict=True):
        blocks.append([w - off, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            prev = blocks[-1]
            prev[0] = (prev[0] * prev[1] + mean * count) / (prev[1] + count)
            prev[1] += count
    values = [mean for mean, count in blocks for _ in range(int(count))]
    return [v + off for v, off in zip(values, offsets, strict=True)]


def _crossings(upper: list[str], lower: list[str], links) -> int:
    pos_u = {k: i for i, k in enumerate(upper)}
    pos_l = {k: i for i, k in enumerate(lower)}
    segs = sorted(
        (pos_u[a] + fa, pos_l[b] + fb) for a, b, fa, fb in links if a in pos_u and b in pos_l
    )
    count = 0
    for i, (_, b1) in enumerate(segs):
        for a2, b2 in segs[i + 1 :]:
            if b2 < b1 and a2 != segs[i][0]:
                count += 1
    return count


def reduce_crossings(rows: list[list[str]], links) -> list[list[str]]:
    """Barycentre sweeps down and up; keep the order with the fewest crossings."""
    by_pair: dict[int, list] = defaultdict(list)
    layer_of = {k: i for i, row in enumerate(rows) for k in row}
    for link in links:
        by_pair[layer_of[link[0]]].append(link)

    def total(order):
        return sum(_crossings(order[i], order[i + 1], by_pair[i]) for i in range(len(order) - 1))

    best, best_count = [list(r) for r in rows], total(rows)
    current = [list(r) for r in rows]
    for sweep in range(8):
        down = sweep % 2 == 0
        indices = range(1, len(current)) if down else range(len(current) - 2, -1, -1)
        for i in indices:
            fixed = current[i - 1] if down else current[i + 1]
            pos = {k: j for j, k in enumerate(fixed)}
            sums: dict[str, list[float]] = defaultdict(list)
            for a, b, fa, fb in by_pair[i - 1] if down else by_pair[i]:
                if down and a in pos:
                    sums[b].append(pos[a] + fa)
                elif not down and b in pos:
                    sums[a].append(pos[b] + fb)
            keys = {
                k: (sum(sums[k]) / len(sums[k]) if sums[k] else j + 0.5)
                for j, k in enumerate(current[i])
            }
            current[i] = sorted(current[i], key=lambda k: keys[k])
        count = total(current)
        if count < best_count:
            best, best_count = [list(r) for r in current], count
    return best
