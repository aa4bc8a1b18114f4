"""Classroom lessons: one per GAN phenomenon, each a short text, a problem preset and the preset
that answers it, and the detector events to watch for. The lessons page, `make lessons` (GIFs)
and docs/classroom.md's lessons section all read this one registry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    slug: str  # URL- and file-safe id: /lessons#slug, docs/lessons/<slug>.gif
    title: str
    text: str  # what to watch and why it happens, a short paragraph
    problem: str  # preset showing the phenomenon (left)
    remedy: str  # preset answering or contrasting it (right)
    watch: tuple[str, ...] = ()  # gancore.observe.detectors event kinds that mark the phenomenon


LESSONS: dict[str, Lesson] = {lesson.slug: lesson for lesson in [
    Lesson(
        "mode-collapse", "Mode collapse",
        "The target is a ring of eight tight clusters. On the left a plain GAN sends nearly all "
        "of its samples to one or two clusters: that cluster is the easiest place to fool the "
        "discriminator right now, and nothing in the generator's loss rewards variety. Watch D's "
        "surface: it rises on the ignored clusters and sinks where the samples pile up. On the "
        "right the generator is trained against five unrolled discriminator updates, so it sees "
        "how D would answer a pile-up and spreads over the whole ring instead.",
        "ring8-vanilla-collapse", "ring8-unrolled", ("mode_collapse", "mode_hopping")),
    Lesson(
        "mode-hopping", "Mode hopping and non-convergence",
        "Four points, a one-layer generator, plain SGD at a high learning rate and the original "
        "minimax loss. The samples gather on one or two points; D learns to distrust them and "
        "pushes them off; they swing over to other points, and D's score on the points they "
        "left climbs back up (the green patches). The pair keep chasing each other and never "
        "settle, which is a cycle rather than an equilibrium. On the right, a deeper generator "
        "with Adam at a gentler rate splits its samples over the four points and comes to rest.",
        "four-points-oscillation", "four-points-settled",
        ("mode_collapse", "mode_hopping", "non_convergence")),
    Lesson(
        "swaying", "Swaying and getting stuck",
        "A 1-D gaussian with a discriminator that learns far slower than the generator and the "
        "original minimax loss. D's first, half-learnt slope happens to point away from the "
        "data, so the generator runs down it and leaves the picture; if D then becomes sure "
        "that everything outside the data is fake, the minimax loss saturates and the generator "
        "gets no gradient back: it is stuck. On the right the discriminator learns as fast as "
        "the generator and the generator uses the non-saturating loss, so the first slope "
        "already leads to the data and a confident D still pulls the fakes in.",
        "sway-1d", "sway-1d-balanced", ("swaying", "stuck")),
    Lesson(
        "forgetting", "Catastrophic forgetting",
        "Real batches show only one of four clusters at a time, moving on every 500 steps. A "
        "network learns what it is shown now and overwrites the rest: D's score on the cluster "
        "it saw a moment ago falls, as if that data had never been real, and the generator "
        "follows the data around the ring instead of covering it. The same drift happens "
        "without any trick in the data wherever D sees no samples for a while, such as a "
        "cluster the generator has abandoned. On the right every batch holds all four clusters "
        "(rehearsal: nothing goes unseen long enough to be forgotten) and an R1 penalty keeps "
        "D's surface smooth around the real data, so the samples settle on all four.",
        "forgetting-sequential", "forgetting-rehearsal-r1", ("catastrophic_forgetting",)),
    Lesson(
        "goodfellow-1d", "The 1-D picture from the original GAN paper",
        "One gaussian on a line, drawn as in Goodfellow's figure: the data's density, the "
        "generator's histogram, D(x), and lines from each noise value z to the x it is mapped "
        "to. With the minimax loss and Adam the fake histogram slides under the data while D(x) "
        "keeps chasing it, and the z-to-x lines keep shifting. Theory says D should end flat at "
        "one half and G should stop; but Adam takes steps of about the same size even when the "
        "gradients are only batch noise, so the pair never comes to rest. On the right plain "
        "SGD, whose steps shrink with the gradient, and the non-saturating loss: the histogram "
        "settles under the data, D(x) flattens at one half and the lines stop moving.",
        "goodfellow-1d", "goodfellow-1d-settled", ("non_convergence",)),
    Lesson(
        "gan-vs-vae", "GAN versus VAE",
        "The same ring of eight clusters and the same network sizes, learnt two ways. On the "
        "left a GAN: the discriminator punishes any sample that does not look like data, so "
        "the samples sit sharply on the clusters. On the right the VAE baseline: it is trained "
        "to reconstruct every point through a noisy code and its decoder averages over nearby "
        "codes, so it reaches around the ring but smears the clusters into a blurred band, with "
        "most samples between them. No detector fires on either; compare the metrics: modes "
        "reached, and the high-quality share (samples near a cluster), which stays low for "
        "the VAE.",
        "ring8-reference", "ring8-vae", ()),
    Lesson(
        "bimodal-6d", "The bimodal 6-D conditional case",
        "Six correlated coordinates given a 4-D condition; coordinates 0 and 1 have two humps "
        "(a hidden sign the condition does not reveal), the other four have one. A conditional "
        "WGAN-GP with a small learning rate learns the single-hump coordinates and the "
        "correlations well but pours the two humps into one: from a smooth map of gaussian "
        "noise, a two-hump marginal needs a sharp split that its slow critic never demands. "
        "Watch the marginals and the mode-collapse event. On the right a non-saturating GAN "
        "with a faster learning rate makes that split and both humps appear.",
        "bimodal-6d-wgan-gp", "bimodal-6d-gan", ("mode_collapse",)),
    Lesson(
        "gaussian-100d", "100-D gaussians judged by KS, correlations and the norm",
        "A 100-D standard gaussian cannot be looked at directly, so judge it by numbers. Per "
        "coordinate, the KS statistic says how far each marginal is from the target; the "
        "correlation matrix of the samples should be as empty as the data's; and the "
        "histogram of sample norms should sit where the data's does, near 10 (the square root "
        "of 100). On the left the generator is fed noise of width 0.01 and D soon tells real "
        "from fake with near certainty: the samples shrink towards a single point, the KS bars "
        "stay near their maximum and the correlations are far from the data's. On the right "
        "the noise has unit width and D compares samples across the batch (minibatch "
        "discrimination), so a batch too alike is caught: the samples keep much of the "
        "spread and the KS and correlation errors drop several-fold, while the norm histogram "
        "is the last to line up: marginals can look right before the joint shape is.",
        "gaussgan-100d", "gaussgan-100d-minibatch", ("mode_collapse",)),
]}


def get_lesson(slug: str) -> Lesson:
    try:
        return LESSONS[slug]
    except KeyError:
        raise KeyError(f"unknown lesson '{slug}'; choose one of: {', '.join(LESSONS)}") from None
