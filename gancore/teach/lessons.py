"""Classroom lessons: one per GAN phenomenon, each a short text, a problem preset and the preset
that answers it, and the detector events to watch for. The lessons page, `make lessons` (GIFs)
and docs/classroom.md's lessons section all read this one registry."""

from __future__ import annotations

from dataclasses import dataclass

from gancore.teach.period import (
    Each,
    EventsBy,
    EventsEvery,
    LessonPeriod,
    Mostly,
    NoEvents,
)


@dataclass(frozen=True)
class Lesson:
    slug: str  # URL- and file-safe id: /lessons#slug, docs/lessons/<slug>.gif
    title: str
    text: str  # what to watch and why it happens, a short paragraph
    problem: str  # preset showing the phenomenon (left)
    remedy: str  # preset answering or contrasting it (right)
    watch: tuple[str, ...] = ()  # gancore.observe.detectors event kinds that mark the phenomenon
    # What each side must show over a class period, from step 1,000 on seeds 0-2
    # (gancore.teach.period states the format; `make test-lessons` checks it).
    period: LessonPeriod | None = None


# What ring8-vanilla-collapse shows over a period, the problem of two lessons: at most 2 of the
# 8 modes held at every check, flagged within 3,000 steps, and most samples off the clusters.
COLLAPSED_RING = (Each("modes", high=2), EventsBy(("mode_collapse", "mode_hopping"), 3000),
                  Mostly("high_quality", high=0.3, share=0.9))


LESSONS: dict[str, Lesson] = {lesson.slug: lesson for lesson in [
    Lesson(
        "mode-collapse", "Mode collapse",
        "The target is a ring of eight tight clusters, and on both sides the same small GAN. On "
        "the left the generator learns ten times faster than the discriminator: it finds the "
        "one place D currently rates highest and sends nearly every sample there, and nothing in "
        "its loss rewards variety. When D finally learns to reject that pile, the whole pile "
        "jumps to another spot, never spreading out; watch D's surface rise on the clusters it "
        "leaves empty. On the right the two learning rates are swapped, so D learns ten times "
        "faster than G, and an R1 penalty keeps D's surface smooth on the data: any pile-up is "
        "punished while it is still small, and the samples spread over all eight clusters and "
        "slowly sharpen onto them.",
        "ring8-vanilla-collapse", "ring8-d-ahead", ("mode_collapse", "mode_hopping"),
        LessonPeriod(
            problem=COLLAPSED_RING,
            remedy=(Each("modes", low=7), Mostly("high_quality", low=0.5, start=15_000),
                    NoEvents(("mode_collapse", "mode_hopping"))))),
    Lesson(
        "mode-hopping", "Mode hopping and non-convergence",
        "Four points and a small GAN whose generator learns ten times faster than its "
        "discriminator. The samples pile up near one point; D slowly learns to distrust that "
        "spot and pushes them off; the whole pile swings over to another point, and D's score "
        "on the point it left climbs back up. The pair keep chasing each other for the whole "
        "lesson, a cycle rather than an equilibrium, and G's gradient never dies out, so the "
        "chase stays on screen. On the right the two learning rates are swapped and an R1 "
        "penalty keeps D smooth on the data: D keeps up with every move, a pile-up is answered "
        "before it forms, and the samples spread over the four points and come to rest.",
        "four-points-oscillation", "four-points-settled",
        ("mode_collapse", "mode_hopping", "non_convergence"),
        LessonPeriod(
            problem=(EventsBy(("mode_collapse", "mode_hopping"), 3000), Each("modes", high=1),
                     Each("g_grad_norm", low=1e-4)),
            remedy=(Each("modes", low=4, start=3000), NoEvents(start=3000)))),
    Lesson(
        "swaying", "Swaying",
        "A narrow 1-D gaussian, a generator that learns a hundred times faster than its "
        "discriminator, and the non-saturating loss. D's first, half-learnt slope happens to "
        "point away from the data, so within the first hundred steps the generator runs down "
        "it, out of the picture. D then learns where the data is and the fakes sway back, but D "
        "learns so slowly that G overshoots every time: a narrow clump of fakes keeps swinging "
        "from one side of the data to the other, never spreading into its shape. On the right "
        "both learn at the same small rate: D keeps up with every step G takes, so G never "
        "outruns what D knows, and the fakes walk onto the data and spread out into its shape.",
        "sway-1d", "sway-1d-balanced", ("swaying", "non_convergence"),
        # Measured over 30,000 steps on seeds 0-2: swaying by step 200; KL of the data from the
        # fakes (the clump's narrowness) at least 4.1 / 6.5 / 7.5 at every check; the clump moves
        # >= 0.3 data scales between snapshots at 73-90% of the checks (less while it first
        # comes back: 0.05-0.14 at steps 1,000-2,000 on seed 0). The remedy reaches the
        # data by step 2,000 (seed 0 is 3.5 data scales off at step 1,000).
        LessonPeriod(
            problem=(EventsBy(("swaying",), 1000), Each("kl", low=3.0),
                     Mostly("moved", low=0.3, share=0.7, start=5000),
                     Mostly("centroid_gap", low=1.0, share=0.2), NoEvents(("stuck",))),
            remedy=(Each("high_quality", low=0.9, start=2000),
                    Each("off_data", high=0.1, start=2000),
                    Each("centroid_gap", high=1.0, start=2000),
                    NoEvents(("swaying", "stuck"))))),
    Lesson(
        "forgetting", "Catastrophic forgetting",
        "Real batches show only one of four clusters at a time, moving on every 500 steps. A "
        "network learns what it is shown now and overwrites the rest: D's score on the cluster "
        "it saw a moment ago falls, as if that data had never been real, and the generator "
        "follows the data around the ring instead of covering it. The same drift happens "
        "without any trick in the data wherever D sees no samples for a while, such as a "
        "cluster the generator has abandoned. On the right every batch holds all four clusters "
        "(rehearsal: nothing goes unseen long enough to be forgotten), an R1 penalty keeps "
        "D's surface smooth around the real data and G learns ten times slower than D, so D "
        "always knows the whole ring and the samples settle on all four.",
        "forgetting-sequential", "forgetting-rehearsal-r1", ("catastrophic_forgetting",),
        LessonPeriod(
            problem=(EventsEvery(("catastrophic_forgetting",), 5000),),
            # measured on seeds 0-2: 4 of 4 modes at every check, high quality 63-77% at step
            # 3,000 and 75-98% from 4,000 on, no events
            remedy=(Each("modes", low=4, start=2000), Each("high_quality", low=0.7, start=4000),
                    NoEvents()))),
    Lesson(
        "goodfellow-1d", "The 1-D picture from the original GAN paper",
        "One gaussian on a line, drawn as in Goodfellow's figure: the data's density, the "
        "fake histogram, D(x), and lines from each noise value z to the x it is mapped to. On "
        "the left a generator of eight units, which can draw the bell only as a few straight "
        "pieces, against a D that takes three steps to each of G's: D(x) rises where the data "
        "outweighs the fakes and dips where they overhang it, G moves its mass towards the "
        "rise and opens a gap elsewhere, and the chase goes on. Theory's flat D at one half "
        "needs a G able to draw the data and a game that settles. On the right a larger G, "
        "plain SGD and an R1 penalty that punishes D for any slope on the data: the histogram "
        "settles under the data and D(x) goes flat at one half. Far from the data and the "
        "fakes D(x) is mere extrapolation: no loss shaped it there.",
        "goodfellow-1d", "goodfellow-1d-settled", ("non_convergence",),
        LessonPeriod(
            # one line between flat and not flat, 0.15, for both sides: D's spread where the
            # data and the fakes are (seeds 0-2 over 30,000 steps: the problem's >= 0.2 at
            # every check, the remedy's <= 0.01; the problem's first non-convergence event at
            # step 5,450-7,150, then one every 1,800-8,300 steps; none on the remedy)
            problem=(EventsEvery(("non_convergence",), 10_000, start=0),
                     Each("d_spread", low=0.15)),
            remedy=(Each("high_quality", low=0.9), Each("d_spread", high=0.15, start=2000),
                    Each("centroid_gap", high=0.3, start=2000),
                    NoEvents(("non_convergence", "swaying", "stuck", "mode_collapse"))))),
    Lesson(
        "gan-vs-vae", "GAN versus VAE",
        "The same ring of eight clusters and the same network sizes, learnt two ways. On the "
        "left a GAN (the mode-collapse lesson's remedy): the discriminator punishes any sample "
        "that does not look like data, so the samples end up sharply on the clusters. On the "
        "right the VAE baseline: it is trained to reconstruct every point through a noisy code "
        "and its decoder averages over nearby codes, so it reaches around the ring but smears "
        "the clusters into a blurred band, with "
        "most samples between them. No detector fires on either; compare the metrics: modes "
        "reached, and the high-quality share (samples near a cluster), which stays low for "
        "the VAE.",
        "ring8-d-ahead", "ring8-vae", (),
        LessonPeriod(
            problem=(Each("modes", low=7), Mostly("high_quality", low=0.5, start=15_000),
                     NoEvents()),
            remedy=(Each("modes", low=6), Each("high_quality", high=0.4), NoEvents()))),
    Lesson(
        "bimodal-6d", "The bimodal 6-D conditional case",
        "Six correlated coordinates given a 4-D condition; coordinates 0 and 1 have two humps "
        "(a hidden sign the condition does not reveal), the other four have one. A conditional "
        "WGAN-GP with a small learning rate and one critic step per generator step pours the "
        "two humps into one: from a smooth map of gaussian noise, a two-hump marginal needs a "
        "sharp split, and its slow, briefly trained critic never demands it. "
        "Watch the marginals and the mode-collapse event. On the right a non-saturating GAN "
        "with a faster learning rate makes that split and both humps appear.",
        "bimodal-6d-wgan-gp", "bimodal-6d-gan", ("mode_collapse",),
        LessonPeriod(
            problem=(EventsBy(("mode_collapse",), 3000), Each("modes", high=1)),
            remedy=(Each("modes", low=2, start=2000), NoEvents(("mode_collapse",), 2000)))),
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
        "gaussgan-100d", "gaussgan-100d-minibatch", ("mode_collapse",),
        LessonPeriod(
            # One line each between far and near, for both sides: the mean KS statistic 0.5 and
            # the correlation distance 0.25. Seeds 0-2 over 30,000 steps: without the remedy KS
            # >= 0.63 and correlations >= 0.33; with it KS 0.19-0.38 (above 0.3 at 5 of 87
            # checks) and correlations <= 0.16 from step 2,000.
            problem=(EventsBy(("mode_collapse",), 3000), Each("variance_ratio", high=0.25),
                     Each("ks_mean", low=0.5), Each("corr_dist", low=0.25)),
            remedy=(Each("variance_ratio", low=0.25, start=2000),
                    Each("ks_mean", high=0.5, start=2000),
                    Mostly("ks_mean", high=0.3, start=2000),
                    Each("corr_dist", high=0.25, start=2000)))),
    Lesson(
        "adagan", "AdaGAN: boosting a mixture of generators",
        "The ring of eight tight clusters and the same small networks on both sides. On the "
        "left one plain GAN: its samples crowd onto a cluster or two, or hang between them. On "
        "the right AdaGAN trains GANs one after another and keeps them all, each drawn in its "
        "own colour. Between two of them a classifier learns to tell real points from the "
        "mixture so far; points it is sure are real are ones the mixture misses, and they get "
        "the weight in the next generator's data, while covered clusters get none. Watch each "
        "new colour settle on clusters still empty: every generator may collapse, but it only "
        "has to cover what is left. The price: GANs trained in turn with a classifier between "
        "them, and a model that is a list of networks.",
        "ring8-vanilla-collapse", "ring8-adagan", ("mode_collapse", "mode_hopping"),
        # The problem side as in the mode-collapse lesson. The remedy, measured over 30,000 steps
        # on seeds 0-2: 8 of 8 modes at every check from step 6,000 (seed 2's first generator
        # held 1-2 before), high quality >= 27% from 10,000 and >= 43% from 24,000; collapse
        # and hopping events only before step 3,600. Each generator switch brings a fresh D,
        # which the forgetting detector flags (4-7 times a period).
        LessonPeriod(
            problem=COLLAPSED_RING,
            remedy=(Each("modes", low=8, start=6000), Each("high_quality", low=0.2, start=10_000),
                    Each("high_quality", low=0.35, start=24_000),
                    NoEvents(("mode_collapse", "mode_hopping"), start=6000)))),
]}


def get_lesson(slug: str) -> Lesson:
    try:
        return LESSONS[slug]
    except KeyError:
        raise KeyError(f"unknown lesson '{slug}'; choose one of: {', '.join(LESSONS)}") from None
