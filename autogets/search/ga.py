"""Genetic algorithm (method Part B §4.4, Part A §8).

Chromosome: one gene per pool example (the target class's training examples with synthetic children), each with an
integer priority in 1..N. Decoding: ``m = round(mean(priority))``; stable-sort genes by priority; select the first
``m``. Population 20 (individual ``i`` seeded ``seed + i``), up to 15 generations.

Variation, as the authors' inspyred code: crossover on **every pair** of the mating pool with probability 0.7 — a
cut ``c ~ U{1..N−1}``, each parent's tail sorted by priority, priorities swapped rank by rank (the tails stay in
sorted order, as the authors' code leaves them); then adaptive polynomial mutation of every offspring gene with
probability ``0.3·(1 − gen/15)``, η = 20. Replacement: μ + λ, best 20 by fitness.

Selection, simplified as Part A §8 allows: elitism (best overall accuracy, best target recall) + lexicase on
per-class recall (cases: every class and "accuracy", drawn group by group with probabilities 0.4/0.3/0.2/0.1, groups
= accuracy with the target class, then the other classes by size, large first) up to half the pool, then binary
tournaments on fitness fill it. The cluster tournament is not implemented.

Termination: budget exhausted, every individual decodes to the same subset, or 15 generations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autogets.search.base import SearchResult, result_of
from autogets.search.evaluator import Evaluation, Evaluator
from autogets.search.representation import ClassView


@dataclass(frozen=True)
class Individual:
    genes: np.ndarray       # pool indices in chromosome order
    priorities: np.ndarray  # priority of each gene, 1..N

    def decode(self, pool: np.ndarray) -> frozenset[int]:
        return decode(self.genes, self.priorities, pool)


def decode(genes: np.ndarray, priorities: np.ndarray, pool: np.ndarray) -> frozenset[int]:
    """``m = round(mean)`` genes with the smallest priorities (stable), as source ids."""
    m = int(round(float(np.mean(priorities))))
    order = np.argsort(priorities, kind="stable")
    return frozenset(int(pool[g]) for g in genes[order[:m]])


def random_individual(n: int, seed: int) -> Individual:
    rng = np.random.default_rng(seed)
    return Individual(np.arange(n), rng.integers(1, n + 1, size=n))


def crossover(a: Individual, b: Individual, rng: np.random.Generator) -> tuple[Individual, Individual]:
    """Rank-wise priority swap of the tails after a random cut (see module docstring)."""
    n = len(a.genes)
    if n < 2:
        return a, b
    c = int(rng.integers(1, n))
    ta = np.argsort(a.priorities[c:], kind="stable")
    tb = np.argsort(b.priorities[c:], kind="stable")
    genes_a, pri_a = a.genes[c:][ta], a.priorities[c:][ta]
    genes_b, pri_b = b.genes[c:][tb], b.priorities[c:][tb]
    child_a = Individual(np.concatenate([a.genes[:c], genes_a]), np.concatenate([a.priorities[:c], pri_b]))
    child_b = Individual(np.concatenate([b.genes[:c], genes_b]), np.concatenate([b.priorities[:c], pri_a]))
    return child_a, child_b


def mutate(ind: Individual, rate: float, rng: np.random.Generator, eta: float = 20.0) -> Individual:
    """Polynomial mutation of each priority with probability ``rate``; results clipped to 1..N."""
    n = len(ind.priorities)
    pri = ind.priorities.copy()
    hit = rng.random(n) < rate
    u = rng.random(n)
    delta = np.where(u < 0.5, (2 * u) ** (1 / (eta + 1)) - 1, 1 - (2 * (1 - u)) ** (1 / (eta + 1)))
    moved = np.clip(pri + delta * (n - 1), 1, n).astype(int)
    pri[hit] = moved[hit]
    return Individual(ind.genes.copy(), pri)


def mutation_rate(generation: int, initial: float = 0.3, generations: int = 15) -> float:
    return initial * (1 - generation / generations)


def lexicase_groups(classes: tuple[str, ...], sizes: np.ndarray, target: str) -> list[list[str]]:
    """Cases in four groups: [accuracy, target], then the other classes split large → small in three."""
    others = [c for c, _ in sorted(zip(classes, sizes, strict=True), key=lambda t: -t[1]) if c != target]
    thirds = np.array_split(np.array(others, dtype=object), 3) if others else []
    return [["accuracy", target]] + [list(g) for g in thirds]


def lexicase(pop: list[tuple[Individual, Evaluation]], groups: list[list[str]], rng: np.random.Generator,
             probabilities: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)) -> list[tuple[Individual, Evaluation]]:
    """Filter the population case by case, keeping those with maximal recall on the case's class."""
    remaining = [list(g) for g in groups]
    candidates = list(pop)
    while len(candidates) > 1 and any(remaining):
        weights = np.array([p if g else 0.0 for p, g in zip(probabilities, remaining, strict=False)])
        gi = int(rng.choice(len(weights), p=weights / weights.sum()))
        case = remaining[gi].pop(int(rng.integers(len(remaining[gi]))))

        def score(item: tuple[Individual, Evaluation], case: str = case) -> float:
            m = item[1].metrics
            return m.accuracy if case == "accuracy" else float(m.recall[m.index(case)])

        top = max(score(c) for c in candidates)
        candidates = [c for c in candidates if score(c) == top]
    unique = {}
    for ind, ev in candidates:
        unique.setdefault(ev.selection, (ind, ev))
    return list(unique.values())


@dataclass
class GeneticAlgorithm:
    population_size: int = 20
    num_selected: int = 20
    max_generations: int = 15
    crossover_rate: float = 0.7
    initial_mutation_rate: float = 0.3
    eta: float = 20.0
    seed: int = 42
    name: str = "ga"
    generations_run: int = field(default=0, init=False)

    def select(self, pop: list[tuple[Individual, Evaluation]], groups: list[list[str]], target: str,
               rng: np.random.Generator) -> list[Individual]:
        t = pop[0][1].metrics.index(target)
        elites = [max(pop, key=lambda p: p[1].metrics.accuracy), max(pop, key=lambda p: p[1].metrics.recall[t])]
        pool = [e[0] for e in elites]
        quota = (self.num_selected + len(elites)) // 2
        for _ in range(10 * quota):
            if len(pool) >= quota:
                break
            pool.extend(ind for ind, _ in lexicase(pop, groups, rng))
        pool = pool[:quota]
        while len(pool) < self.num_selected:
            i, j = rng.integers(len(pop), size=2)
            pool.append(max(pop[i], pop[j], key=lambda p: p[1].key)[0])
        return pool

    def search(self, view: ClassView, evaluator: Evaluator) -> SearchResult:
        pool = np.array(sorted(evaluator.pool))
        n = len(pool)
        if n == 0:
            return result_of(self.name, evaluator, stopped="no candidates")
        rng = np.random.default_rng(self.seed)
        problem = evaluator.problem
        sizes = np.bincount(problem.y[: problem.n_train], minlength=len(problem.classes))
        target = view.target
        groups = lexicase_groups(problem.classes, sizes, target)
        population = [random_individual(n, self.seed + i) for i in range(self.population_size)]
        evals = evaluator.evaluate([ind.decode(pool) for ind in population])
        pop = [(i, e) for i, e in zip(population, evals, strict=True) if e is not None]
        stopped = "generations"
        for generation in range(self.max_generations):
            self.generations_run = generation
            if evaluator.exhausted:
                stopped = "budget"
                break
            if len({e.selection for _, e in pop}) <= 1:
                stopped = "converged"
                break
            parents = self.select(pop, groups, target, rng)
            children: list[Individual] = []
            for a in range(len(parents)):
                for b in range(a + 1, len(parents)):
                    if rng.random() < self.crossover_rate:
                        children.extend(crossover(parents[a], parents[b], rng))
            rate = mutation_rate(generation, self.initial_mutation_rate, self.max_generations)
            offspring = [mutate(ind, rate, rng, self.eta) for ind in parents + children]
            evals = evaluator.evaluate([ind.decode(pool) for ind in offspring])
            scored = [(i, e) for i, e in zip(offspring, evals, strict=True) if e is not None]
            pop = sorted(pop + scored, key=lambda p: p[1].key, reverse=True)[: self.population_size]
        else:
            self.generations_run = self.max_generations
        return result_of(self.name, evaluator, stopped=stopped if not evaluator.exhausted else "budget")
