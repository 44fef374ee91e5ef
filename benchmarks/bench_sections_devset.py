"""Section suggestions on a second, independently made synthesized set: cross-style and cross-generator.

The development set (:mod:`workbench.devset`, FluidSynth GM render of ten styles the demo lacks)
rendered with ``--sections`` carries section truth (intro/build/drop/break/outro, verse/chorus
for hip-hop and trap). Scores, each next to its baselines (majority class, logistic regression,
unsupervised novelty boundaries), the held-out split (every third track of a style) always
reported apart from the dev split (the only one looked at while tuning):

- leave-one-style-out on the devset: dev tracks of each style scored by a model trained on the
  dev tracks of the other styles; held-out tracks of each style by a model trained on the dev
  tracks of the other styles (held-out tracks are never trained on);
- in-domain: the devset's dev tracks trained on as a user's library (a grouped quarter held out),
  and that model on the devset's held-out tracks;
- cross-generator: a model trained on the demo library scored on the devset's dev and held-out
  tracks, and the devset model scored on the demo (temperature and confidence map fitted on the
  training set's own leave-one-style-out predictions: no calibration data from the other set);
- ``--ablation``: the feature groups, leave-one-style-out on the devset's dev tracks.

    python -m workbench.devset /work/wt/devdata/sections-s18 --per-style 4 --seed 18 --sections
    NUMBA_CPU_NAME=generic nice -n 10 .venv/bin/python benchmarks/bench_sections_devset.py \\
        --devset /work/wt/devdata/sections-s18 --demo-dir /work/wt/devdata/sections-demo [--ablation] [--json OUT]

(``--library-dir`` and ``--demo-dir`` are written to (scan, embeddings): point them at copies when the
rendered folders are shared read-only.) Self-training on unlabelled tracks (session 10): ``bench_sections_selftrain.py``.
``--audio-views N [--augment JSON]`` (session 15): the training tracks' augmented audio views as extra rows
(:mod:`workbench.train.sections.audio_views`; not a default, cells in ``bench_sections_devset_history.md``).
The grammar's priors scaled at decoding time (session 15; ``--config '{"ends_weight": 3.0}'``, the first/last prior,
is the one that lifts demo -> devset without another accuracy cell lower; not a default): the same file, as is
session 16's outro gate (``--config '{"outro_gate": 3.0}'``: demo -> devset +.002 to +.009, but the demo's own
cross-generator line .790 -> .772; not a default). Session 17 (the same file): ``--config '{"label_smoothing": 0.1}'``
meets 0.85 across the devset's styles at every seed (.946/.943/.933) but lowers devset -> demo (.770/.766/.735), the
devset in-domain at seeds 1-2 and the demo's own cross-generator line (.790 -> .742): an option, not a default; the
outro gate's lookback and clip, and the fold models ensembled, screened by decoding: neither kept.

Issue 18's target cells for settings side by side (default against ``--extra dj,novelty,ends,lead``, seeds 0-2,
session 14: "lead" is not the default by those targets either): ``bench_sections_targets.py`` reads this bench's
``--json`` runs.

Which temperature rule carries the demo model's confidence to the devset (session 14: the calibration is already
fitted on leave-one-style-out folds; no rule fitted on the demo alone gives window ECE < 0.05 across generators, and
the served suggestions there are underconfident): ``bench_sections_calibration.py``.

Session 13 (2026-12-06, 18:45-20:10 UTC, load 10-17 on the shared 2 cores; figures seeded). Suggestions now tile the
track (the first starts at 0 s, not at the first beat; the last ends at the duration; inner boundaries on bar starts),
and :func:`~workbench.evaluate.segmentation.segment_eval` takes the track's first beat: a first section that starts by
it (+ 1 s) starts the track on either side, so neither a label from beat 0 nor a suggestion from 0 s pads a boundary
(mir_eval's ``trim`` leaves 0 s and the end out). 5 of the devset's 40 tracks have their first beat after 1 s (up to
5.6 s), none of the demo's. Frame accuracy is unchanged in every cell; the devset's boundary cells move (seed 1, same
command, copies ``--library-dir /tmp/h13-sections/lib3 --demo-dir /tmp/h13-sections/demo3``, 413 s at load 13-16):
F @3 s devset in-domain .926 -> .939, devset LOSO dev .895 -> .907, demo -> devset dev .787 -> .796; novelty's
.714 -> .699, .750 -> .746, .750 -> .746 (the old figures scored a padded boundary at the first beat, a miss for
suggestions and a free hit for novelty boundaries near it); demo cells unchanged.

Goal: devset LOSO dev >= 0.85 at seeds 0, 1, 2 with a new signal for verse vs drop (every knob was tried in sessions
9-12). Where the errors are (seed 1, defaults, session 12's harness on the bench's ``loso`` path, segments recorded,
``/tmp/h13-sections/ana.py``): the trap tracks' verse windows arg-max drop 78, chorus 64, verse 47 of 205, their chorus
windows drop 95, chorus 57 of 155; the hip-hop fold (.359 at every seed) is lost in decoding: its verse windows are
verse by plurality on all three tracks (69 of 183) and its chorus windows half chorus (127 of 251), yet all three are
smoothed to "intro build drop [break build drop] outro", the EDM form. Per-track z-scored, the window level (``dj``)
and the 1-3 kHz and >4 kHz mel bands separate verse from drop pooled over the devset's windows (AUC .03-.10), so the
layout holds the cue; a model trained without the style does not carry it over. Tried, as window groups kept raw
(not z-scored: 0 means "all there"): what a window lacks of its track's fullest arrangement, per band the 90th
percentile of the 4-s mean (low end, 300 Hz-1 kHz, 1-3 kHz, highs, level, vocal-band spread; 6 columns), subsets, the
75th percentile, the same z-scored, and the loudest within 16 or 32 s instead of the track's percentile (group means:
EDM drops sit as far below it as song verses, no separation; not run). Harness (``/tmp/h13-sections/harness.py``,
devset LOSO dev / trap fold / hip-hop fold, demo LOSO, demo -> devset dev; defaults .861/.841/.862, .871/.880/.886,
.778/.756/.766)::

    6 columns, raw        s0/s1/s2  .849/.849/.842 (trap .718/.718/.685)  .862/.856/.886  .764/.756/.763
    6 columns, z-scored   s1        .842 (.685)                           .847            .734
    90th -> 75th pct      s1        .842 (.685)                           .847            .736
    300 Hz-3 kHz + spread s1        .849 (.718)                           .880            .745
    1-3 kHz only ("lead") s0/s1/s2  .851/.864/.861 (trap .731/.792/.776)  .862/.871/.869  .775/.746/.764

(hip-hop .362 in every row.) New option, off: ``WindowFeatures(extra=(..., "lead"))``, bench ``--extra
dj,novelty,ends,lead`` (:func:`~workbench.train.sections.dj_features.lead_block`: the mean shortfall of the 1-3 kHz
bands below their 90th percentile over the track, one column kept raw under the track norm; no audio-in export).
Full bench seeds 0/1/2 (``--extra dj,novelty,ends,lead --seed S``, copies ``/tmp/h13-sections/lib{0,1,2}``,
``demo{0,1,2}``, 414-415 s a run, three at once at load 12-16), dev columns against the defaults::

                              devset in-dom.  devset LOSO     devset -> demo  demo in-dom.    demo LOSO       demo -> devset dev
    accuracy, defaults        .969/.969/.969  .861/.841/.862  .808/.818/.821  .987/1.00/.987  .871/.880/.886  .778/.756/.766
    accuracy, lead            .969/.969/.969  .851/.864/.861  .815/.821/.802  .987/1.00/.987  .862/.871/.869  .775/.746/.764
    F @3 s, lead              .939 x 3        .910/.904/.904  .924/.942/.902  1.0 x 3         .972/.972/.968  .796/.799/.797
    F @0.5 s, lead            .892 x 3        .848/.843/.843  .786/.791/.799  .833/1.00/.833  .915/.915/.912  .712/.715/.718
    per sugg. ECE, lead       .083/.088/.089  .049/.052/.058  .190/.194/.191  .081/.065/.065  .082/.055/.057  .114/.073/.093
    window ECE, lead          .038/.027/.025  .017/.011/.015  .138/.162/.110  .063/.051/.049  .037/.040/.042  .148/.191/.185

(intro/outro confusion 0 everywhere; defaults at seed 1 with this session's scoring: F @3 s .939, .907, .924, 1.0,
.968, .796; per suggestion ECE .085, .044, .222, .061, .056, .075.) It meets >= 0.85 on the devset's LOSO at every
seed (the trap fold .685 -> .73-.79; the hip-hop fold, a decoding loss, unmoved) but costs the demo's LOSO at every
seed (-0.009 to -0.017: its dnb fold .947 -> .845/.895 at seeds 0/1) and demo -> devset dev (-0.003/-0.010/-0.002),
devset LOSO at seeds 0 and 2 and devset -> demo at seed 2: not the default by the rule (no dev column lower). A raw,
track-relative level carries the devset generator's verse (its lead off, 0.85 velocity) and not the demo's forms as
well. Held-out columns were printed by these runs and not read (nothing was chosen).

Session 12 (2026-12-06, 15:50-16:45 UTC, a fresh machine, load 3-13; figures seeded). Goal: devset LOSO dev >= 0.85 at
seeds 0, 1 and 2 (seed 1: 0.841) without losing another dev column. Defaults unchanged: nothing did it. Seed 1
reproduced here (copies ``--library-dir /tmp/h12-sections/benchlib --demo-dir /tmp/h12-sections/benchdemo``, the demo
library made at seed 0; 275 s at load ~9): every cell as in session 11. What the seed changes: the MLP's initial
weights, batch order and dropout (``SectionTrainer(seed)``), nothing else: LOSO folds go by size then name, and the
early-stopping validation tracks are the same at seeds 0/1/2 (the grouped split's first fold; one hip-hop track validates
in 7 of the 8 folds). Seven folds score the same at every seed; only afrohouse + trap moves (smoothed .776/.685/.781;
hip-hop .362/.359/.362). Seed 1, smoothed: verse 0 of 388 windows right (135 build, 230 drop, 23 break), chorus 43 of
407 (364 drop); the three trap tracks all "intro build drop outro" (truth intro verse chorus verse chorus outro; seeds
0 and 2 find verse, chorus on two of them). Their verse windows read drop .31-.55, verse .12-.30, chorus .13-.49 at
every seed: a coin flip that the smoother settles by merging verse + chorus + verse + chorus into one build and one
long drop. Not noise around a good mean: averaging does not move it. Harness ``/tmp/h12-sections/harness.py`` (the
bench's ``loso`` and ``train_sections(demo, external=...)`` paths; reproduces its cells), seed 1 devset LOSO dev:
three seeded MLPs averaged (seeds s, s+1000, s+2000 in every fold and the model; 1.7x the time) 0.842 (trap fold
.685; demo LOSO .871, demo -> devset dev .736); weights averaged over the last 4 epochs 0.841 (seed 0 .861; demo ->
devset dev .749/.775); no early stopping .849/.848/.862 at seeds 1/0/2 (demo LOSO .880/.865/.862). Knobs at seed 1
(devset LOSO dev; trap fold): position_weight 1.25 .841; grammar_weight 2.5 with position 1.0 or 1.25 .833;
evidence_weight 1.5 .847 (.718), 2.0 .868 (.787; hip-hop .403); evidence 1.5 + position 1.25 .861; switch_penalty 1,
tie 0.4, phrase_penalty 2, duration_alpha 3: .841 each; duration_alpha 0.3 .848; novelty_weight 4 .834; one grammar
prior at half weight (``viterbi_options`` patched): order .860 (.776), durations .843, middle .841, first/last .841.
The dev columns of the ones that pass seed 1 (devset LOSO dev, demo LOSO, demo -> devset dev; defaults .861/.841/.862,
.871/.880/.886, .778/.756/.766): evidence_weight 1.5 (s0) .862, .851, .751; 2.0 (s0) .863, .847, .740; 2.0 with label
families (s1/s0) .846/.848, .867/.870, .751/.754; ``order_weight`` 0.5 (s1/s0) .860/.861, .838/.850, .739/.749; 0.25
.855/.859, .844/.850, .695/.729; position 1.0 + label families .833/.846, .873/.882, .778/.774. Whatever loosens the
grammar lifts the devset's two song styles (each has 3 tracks of the other to learn from when held out) and costs
the demo, whose forms need the order prior. New option, off (1.0): ``config={"order_weight": W}``, the order prior's
scale apart from ``grammar_weight`` (``Grammar.order_weight``), the knob that isolates the cause. Closest: position
1.0 + ``track_jitter`` 0.3, full bench seeds 0/1/2 (same copies, ``--config '{"position_weight": 1.0, "track_jitter":
0.3}'``, 271-280 s a run, three at once at load 10-13), dev columns against the defaults (sessions 9-11)::

                              devset in-dom.  devset LOSO     devset -> demo  demo in-dom.    demo LOSO       demo -> devset dev
    accuracy, defaults        .969/.969/.969  .861/.841/.862  .808/.818/.821  .987/1.00/.987  .871/.880/.886  .778/.756/.766
    accuracy, pos 1 + jitter  .969/.936/.969  .861/.854/.853  .822/.811/.811  .987/1.00/.987  .879/.877/.885  .771/.745/.756
    F @3 s, pos 1 + jitter    .926/.892/.926  .894/.890/.895  .934/.934/.942  1.0 x 3         .978/.978/.982  .835/.806/.802
    F @0.5 s, pos 1 + jitter  .879/.844/.879  .834/.828/.836  .824/.824/.825  .833/1.00/.833  .925/.925/.929  .761/.733/.728
    per sugg. ECE, defaults   .091/.085/.094  .042/.044/.051  .201/.220/.203  .059/.061/.057  .050/.056/.043  .084/.075/.058
    per sugg. ECE, pos+jitter .069/.049/.059  .032/.040/.040  .185/.205/.234  .048/.059/.053  .054/.063/.050  .092/.071/.076
    window ECE, pos + jitter  .024/.029/.016  .014/.013/.013  .123/.119/.154  .020/.047/.043  .034/.035/.048  .195/.170/.178

(intro/outro confusion 0 everywhere; demo -> devset dev F @3 s with the defaults .786/.787/.787, novelty .750.) It
meets >= 0.85 on the devset's LOSO at every seed (per-suggestion ECE there under 0.05 at every seed too) and keeps
the demo's LOSO (.880 mean vs .879), but loses demo -> devset dev accuracy (.757 mean vs .767; its boundaries gain,
F @3 s .814 vs .787) and the devset's in-domain at seed 1 (.936 vs .969): not the default by the rule (no dev column
lower); ``config={"position_weight": 1.0, "track_jitter": 0.3}`` is the setting when the labelled library has few
tracks of a song form. Its held-out columns were printed by these runs and not read (nothing was chosen).

Session 11 (2026-12-06, 13:00-13:25 UTC, load 11-14; figures seeded). The labeler sees one confidence per
suggestion and accepts or rejects it whole, but "suggestion ECE" counted windows (a 30-window suggestion weighed 30
times). New lines: "per suggestion ECE" (each suggestion once, right when half its windows carry its label, the rule
``bench_sections_loop.py`` accepts at; the same 15 equal-width bins), its 95 % bootstrap interval over tracks, the
ECE a perfectly calibrated map still shows at that count ("if calibrated") and "suggestions scored"
(:mod:`workbench.evaluate.span_calibration`). Option ``config={"confidence_map_per": "span"}``: the Platt map fitted
on one row per out-of-fold suggestion with that outcome. ``--seed S [--config ...]``, copies ``--library-dir
/tmp/h11c/lib --demo-dir /tmp/h11c/demo`` (350 s a run); accuracy is identical (confidences only). Seeds 0/1/2::

    per suggestion ECE served     devset in-dom.  devset LOSO     devset -> demo  demo in-dom.    demo LOSO       demo -> devset
    map per window (default)      .091/.085/.094  .042/.044/.051  .201/.220/.203  .059/.061/.057  .050/.056/.043  .084/.075/.058
    map per span                  .074/.074/.077  .040/.045/.046  .145/.152/.147  .044/.041/.044  .054/.066/.062  .072/.052/.059
    suggestions scored            41              168-170         162-163         42              165-167         164-166
    95 % interval (window, s0)    .043-.170       .035-.067       .170-.248       .049-.070       .043-.096       .058-.134
    if calibrated (window)        .073-.079       .045-.047       .060-.070       .046-.062       .039-.048       .058-.066
    window-weighted, per window   .101/.102/.102  .047/.045/.071  .251/.278/.255  .065/.079/.060  .098/.093/.063  .061/.112/.099
    window-weighted, per span     .074/.076/.076  .048/.070/.071  .197/.186/.198  .051/.055/.045  .082/.107/.099  .093/.123/.104

Per span lowers 4 of the 6 dev cells at every seed and raises the demo's LOSO at every seed (a map fitted to the share
of suggestions right, 0.92, is higher than one fitted to windows, 0.88, and the demo's weak styles, downtempo right
0.70, get it too): not the default. In the LOSO cells the default is 0.042-0.056 per suggestion, with a floor of
0.039-0.048 at ~168 suggestions and intervals that hold 0.05: under 0.05 at every seed is not something this count can
show either way. Tried offline on the recorded out-of-fold suggestions (``/tmp/h11c/rec.py``, ``ana*.py``; they
reproduce the bench's cells exactly), none under 0.05 in every LOSO cell at every seed: isotonic, per-label
intercepts, first/last-suggestion flags, the share of its windows whose arg-max is its label, the track's mean
confidence, the label's or the tied pair's mean probability as the stated confidence, Platt C 0.1-10, the mean of
the two maps. A strongly regularised span map (C 0.03) is lowest across generators (devset -> demo .089/.071/.087,
demo -> devset .043/.029/.039) but not in the LOSO cells (.037/.037/.069, .062/.050/.068); a constant at the training
folds' share right scores 0.013-0.036 across generators: the ECE rewards a map that says nothing. The stated
confidence ranks span outcomes well within a generator (AUC devset LOSO 0.98-0.99) and much less well across one
(demo LOSO 0.78-0.81, devset -> demo 0.75-0.80, demo -> devset 0.68-0.72). ``make demo``'s 8-track cross-generator
set (49 suggestions; the bench's demo model, ``pipeline_cross.cross_generator_set``): per suggestion .060/.140/.064
per window map, .075/.079/.087 per span; window-weighted .075/.124/.098 vs .090/.072/.123. Held-out columns, looked
at once (55-58 suggestions, floor 0.05-0.13; devset LOSO held-out, devset dev -> held-out, demo -> devset held-out):
per window .085/.073/.053, .076/.080/.071, .117/.113/.136; per span .100/.095/.082, .057/.057/.051, .129/.153/.146
(the first offline print had shown the held-out cells of seeds 0-1 too; nothing was chosen on them).

Session 9 (2026-12-06, 07:10-08:30 UTC, load 8-12 on the shared 2 cores; figures seeded). Goal: demo -> devset
(cross-generator) without lowering the other columns. Defaults unchanged; options added (off by default):
``track_jitter`` (per track and column, a gain ``exp(N(0, s))`` and an offset ``N(0, s)`` in std units, drawn afresh
each epoch), ``input_noise`` (Gaussian noise per window), ``WindowFeatures(norm="rank")`` (within-track quantiles
mapped to a normal, unchanged by any increasing per-track map; no audio-in model); bench ``--config JSON``,
``--norm``. Where demo -> devset dev errors go (seed 0, defaults, smoothed windows): build -> drop 233 of 735, verse
-> chorus 205 of 388, outro -> chorus / drop / verse 152 / 103 / 75 of 1,068, intro -> build 106 of 979, drop ->
chorus 105, chorus -> drop 87; by style psytrance 0.636, hip-hop 0.667, dubstep 0.681, breakbeat 0.709, trap 0.734,
ukgarage 0.956, hardstyle 0.979. Window arg-max is 0.513: the grammar carries the figure. The devset's outros are
long (up to 30 s; 17 % of its windows, the demo's 10 %) and keep the kick and bass. Screened on seed 0 with a
harness on the same code path as the bench's demo columns (``train_sections(demo, external=...)``): demo -> devset
dev smoothed/ arg-max, demo LOSO; "c8": the 8 numpy-rendered devset tracks ``make demo``'s cross-generator stage
renders (``pipeline_cross.cross_generator_set``, seed 0)::

    defaults                         0.778 / 0.513, 0.871, c8 0.760 (seeds 1, 2: 0.756, 0.766; c8 0.834, 0.753)
    norm="rank"                      0.761 / 0.446, 0.888 (breakbeat, dubstep up; hip-hop, trap, dnb down)
    track_jitter 0.3 / 0.45 / 0.6    0.788 / 0.548, 0.888 / 0.789, 0.888 / 0.794, 0.887 (seeds 1, 2: 0.756/0.789,
                                     0.743/0.798, 0.747/0.775); 1.0: 0.750; c8 at 0.3: 0.790 / 0.829 / 0.795
    input_noise 0.5; + jitter 0.6    0.775 / 0.505, 0.880; 0.776 / 0.546, 0.880
    dropout 0.5, weight decay 0.05   0.770, 0.871; 0.778, 0.871; hidden 64: 0.706, 0.851
    frame columns left out           mel std 0.774, MFCC 0.754, contrast + chroma 0.748, tempogram 0.766, mel means
                                     0.737 (every group of the 202 carries something across generators)
    copies of each training track    mel bands shifted up to 3: 0.765 / 0.548; a level offset per section (3 dB):
    with altered frames              0.751; a tilt per section: 0.766; a smooth level drift: 0.755 (LOSO 0.892)
    grammar_weight 3 / 4 (default 2) 0.812, 0.881, c8 0.793 / 0.781, 0.850, c8 0.786; 3 + jitter 0.3: 0.804 /
                                     0.548, 0.891, c8 0.882 (seeds 1, 2: 0.761 / 0.799, c8 0.839 / 0.827; c8 suggestion
                                     ECE 0.10-0.15 vs 0.08-0.12 with the defaults)

Full bench, seeds 0/1/2 (``--seed S [--config '{"track_jitter": 0.3}']``; copies ``--library-dir /tmp/h9t/lib
--demo-dir /tmp/h9t/demo``; 110-280 s a run at load 6-12), dev columns, accuracy smoothed, then the mean of the five::

                          devset in-dom.  devset LOSO     devset -> demo  demo LOSO       demo -> devset dev  mean
    defaults              .969/.969/.969  .861/.841/.862  .808/.818/.821  .871/.880/.886  .778/.756/.766      .857
    track_jitter 0.3      .969/.969/.969  .849/.854/.854  .808/.812/.819  .888/.871/.874  .788/.756/.789      .858
    grammar_weight 3.0    .969/.936/.936  .834/.834/.846  .821/.807/.814  .881/.882/.881  .812/.760/.778      .853
    both                  .969/.936/.969  .834/.834/.846  .809/.807/.821  .891/.878/.884  .804/.761/.799      .856

(demo in-domain 0.987/1.000/0.987 in every row; intro/outro confusion 0 everywhere.) Means: jitter 0.3 gives demo ->
devset dev +0.011 (0.767 -> 0.778; arg-max 0.502 -> 0.530) and c8 +0.023 (0.782 -> 0.805), at -0.002 on the devset's
LOSO and -0.003 on devset -> demo (within the seed spread, but not none) and -0.001 on the demo's LOSO; F @3 s demo
-> devset 0.786/0.787/0.787 -> 0.808/0.788/0.787; suggestion ECE served demo -> devset 0.061/0.112/0.099 ->
0.072/0.093/0.059, devset -> demo 0.251/0.278/0.255 -> 0.237/0.215/0.246, c8 0.075/0.124/0.098 -> 0.100/0.076/0.119.
Grammar weight 3 lifts the cross-generator column most (+0.017; with the jitter +0.021, and c8 +0.067 to 0.849 in
the harness) but costs the devset's LOSO 0.017 and its in-domain 0.022: the grammar learned on the demo's forms
helps where the windows transfer badly, and hurts where they are good. Neither is a default (the rule: no dev column
lower); ``config={"track_jitter": 0.3}`` is the one to try on a user's own library when its music is unlike the
labelled one. Target 0.85 across generators still missed (best mean 0.788).
Held-out columns, looked at once after the choice (seeds 0/1/2, mean; the jitter run's seeds 0 and 1 had been
printed once by a summary before, not used): devset LOSO held-out 0.875/0.863/0.912 (0.884) defaults, 0.875/0.863/
0.961 (0.900) jitter 0.3, 0.826 x 3 grammar weight 3 and both; devset dev -> held-out 0.987, 0.990, 0.993, 0.994;
demo -> devset held-out 0.767/0.767/0.741 (0.758), 0.767 x 3 (0.767), 0.790/0.782/0.735 (0.769), 0.782/0.767/0.798
(0.782). The held-out split agrees: jitter gains a little everywhere; grammar weight 3 gains across generators and
loses across the devset's styles.

Session 9 (2026-12-06, 07:10-08:30 UTC, load 7-12 on the shared 2 cores; figures seeded). Option added, not the
default: ``config={"confidence": "ensemble"}`` (:mod:`workbench.train.sections.ensemble`) keeps ``ensemble_members``
(4) small models beside the head, each trained (the leave-one-group-out folds' short schedule) on the training
tracks without a seeded quarter of their groups (``ensemble_split="groups"``) or without a quarter of the feature
groups (``"features"``, a random-subspace bag); the suggestion's confidence is their and the head's support for its
label (``ensemble_score``: ``"mean"`` probability over its beats, ``"agreement"`` share of arg-maxes, or
``"stated_agreement"``, stated x agreement); in each LOSO fold the members are trained on that fold's training
tracks only, the Platt map and the guard then work on it as before. Model file 0.65 MB -> 3.25 MB (4 members of 623
x 256). Training time (``train_sections`` on the devset's 30 dev tracks, seed 0, LOSO included, interleaved, load
~6): 22.8 / 20.8 s stated, 41.3 / 55.8 s with the ensemble (4 members for the model, 4 more in each of the 8 LOSO
folds, the folds' short schedule). Same command plus ``--config '{"confidence": "ensemble", "ensemble_score": S[,
"ensemble_split": "features"]}'`` (copies ``/tmp/h9c/lib``, ``/tmp/h9c/demo``; 164 s stated at load 2-7, 277-599 s
with an ensemble at load 7-12), seed 0; accuracy, F @3 s and window ECE unchanged (confidence only); suggestion ECE
stated/served::

                              devset   devset  devset    devset    devset  demo    demo   demo->  demo->
                              in-dom.  LOSO    LOSO      dev->     ->demo  in-dom. LOSO   devset  devset
                              dev      dev     held-out  held-out                          dev     held-out
    stated (the default)      .165/.101 .119/.047 .145/.094 .153/.082 .151/.251 .139/.065 .160/.098 .152/.061 .172/.089
    groups, mean              .141/.087 .121/.084 .161/.120 .143/.106 .219/.291 .192/.091 .220/.099 .316/.077 .356/.076
    groups, agreement         .073/.073 .069/.070 .086/.131 .036/.036 .266/.266 .065/.118 .175/.056 .307/.083 .294/.063
    groups, stated x agreem.  .200/.120 .125/.077 .162/.111 .174/.091 .255/.162 .196/.094 .217/.081 .355/.141 .426/.126
    features, agreement       .049/.074 .061/.058 .068/.089 .014/.071 .268/.263 .028/.117 .202/.172 .448/.119 .418/.076
    features, mean            .126/.062 .114/.059 .162/.081 .124/.080 .249/.329 .165/.084 .198/.112 .373/.122 .419/.113

Seeds 0/1/2 of the dev columns, served (the default: session 8's "per window" row, same code path)::

                                    stated (default)    groups, stated x agr.  groups, agreement
    devset LOSO dev (across styles)  0.047/0.045/0.071   0.077/0.073/0.058      0.070/0.067/0.086
    devset -> demo                   0.251/0.278/0.255   0.162/0.228/0.262      0.266/0.391/0.295
    demo LOSO (across styles)        0.098/0.093/0.063   0.081/0.063/0.087      0.056/0.127/0.162
    demo -> devset dev               0.061/0.112/0.099   0.141/0.154/0.127      0.083/0.103/0.100
    mean of the four, worst cell     0.122, 0.278        0.126, 0.262           0.151, 0.391

Not proposed as the default: no variant lowers the ECE across generators without raising it elsewhere, and none is
under 0.05 across generators (the held-out columns were printed by every run; no choice was made on them). Why (seed
0, devset model on the demo, agreement of head + 4 members): 3,174 of the 4,868 scored windows sit in suggestions
all five models agree on, and those are right 0.80 of the time (0.96 on the devset's held-out styles); the
suggestions the models split on are right *more* often (0.2 agreement: 360 windows, all right). Per suggestion (seed
0, the devset model trained without the LOSO block, on the demo): the split ones are mostly intros and outros the
grammar's position factor names right while the members' window arg-maxes say the other end (416 windows at
agreement <= 0.4; the members' votes skip the grammar); the unanimous wrong ones are song sections named as EDM
ones: drop for chorus 198, drop for verse 169, build for chorus 147, build for break 42. Under a change of generator
the errors are shared by every member, whichever styles or feature groups it was trained without, so their
disagreement does not rise where the accuracy falls: Ovadia et al. measured corrupted and out-of-distribution
inputs; here every member learns the same generator's sound and makes the same naming errors on the other's. A
distance to the training windows (10-NN, standardised features, median per track) separates the generators only one
way: demo tracks to devset windows 16.9 vs devset styles left out 16.3 (the worst cell, devset -> demo, is the one
it cannot see), devset tracks to demo windows 17.5 vs demo styles left out 14.1; not built.

Sessions 8 (a Platt map counting each suggestion once, ``confidence_map_per="suggestion"``), 7 (the chorus/drop
tie), 6 and 5 (the defaults of issue 18's first session, the feature-group ablations) and 10 (label families,
``config={"label_families": "learned"}``: demo -> devset dev 0.767 -> 0.803 over seeds 0-2, devset LOSO -0.013,
devset -> demo -0.019; off by default): ``benchmarks/bench_sections_devset_history.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sections import ABLATIONS, demo_data, with_layout  # noqa: E402
from bench_sections_table import _inside, row, strict_json, table  # noqa: E402

#: Offset added to devset track ids so they never clash with the demo library's.
DEVSET_ID_OFFSET = 100_000


def devset_data(folder: Path, *, library_dir: Path):
    """Section data of a devset rendered with ``--sections``; each track's group is its style.

    The folder is read as a user's labelled folder is (:func:`~workbench.train.sections.external.folder_section_data`);
    the truth JSON's ``split`` is kept beside it.

    Returns the data (track ids offset by :data:`DEVSET_ID_OFFSET`) and ``{track id: split}``.
    """
    from workbench.errors import ParameterError
    from workbench.library import Library
    from workbench.train.sections import SectionData
    from workbench.train.sections.external import folder_section_data

    try:
        data, _ = folder_section_data(folder, library_dir=library_dir, progress=False)
    except ParameterError as e:
        raise SystemExit(f"{e}: render it with `python -m workbench.devset DIR --sections`") from e
    with Library(Path(library_dir) / "workbench.db") as lib:
        path = {t.id: Path(t.path) for t in lib.tracks()}
    split = {t.track_id + DEVSET_ID_OFFSET: json.loads(path[t.track_id].with_suffix(".json").read_text())["split"]
             for t in data.tracks}
    tracks = [replace(t, track_id=t.track_id + DEVSET_ID_OFFSET) for t in data.tracks]
    return SectionData(tracks, data.features, data.backbone), split


def loso(data, *, seed: int, test_tracks=None, config: dict | None = None, sections: bool = False):
    """:func:`leave_one_group_out` with the fold settings :func:`train_sections` uses (``config``: overrides).

    With ``sections`` the pair (figures, ``{track id: {"smoothed", "novelty"}}`` sections of each scored track).
    """
    from workbench.train.sections import CONFIG_DEFAULTS, leave_one_group_out
    from workbench.train.sections.training import _TRAINER_KEYS

    cfg = {**CONFIG_DEFAULTS, **(config or {}), "seed": seed}
    params = {**{k: cfg[k] for k in _TRAINER_KEYS}, "epochs": min(cfg["epochs"], cfg["transfer_epochs"]),
              "max_samples_per_epoch": cfg["transfer_samples_per_epoch"], "patience": min(cfg["patience"], 4)}
    t0 = time.perf_counter()
    out, oof = leave_one_group_out(data, cfg=cfg, trainer_params=params, test_tracks=test_tracks)
    out["wall_s"] = time.perf_counter() - t0
    return (out, oof.get("sections", {})) if sections else out


def with_audio_views(data, *, library_dir: Path, n_views: int, augment: dict) -> dict:
    """Every track of ``data`` gets ``n_views`` augmented audio views (:mod:`workbench.train.sections.audio_views`)."""
    from workbench.augment import AugmentSettings
    from workbench.library import Library
    from workbench.train.sections.audio_views import add_audio_views

    augment = dict(augment)
    eq_db = float(augment.pop("eq_db", 0.0))  # the view's EQ (embed_views), not an AugmentSettings field
    settings = AugmentSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in augment.items()})
    with Library(Path(library_dir) / "workbench.db") as lib:
        return add_audio_views(lib, data, n_views=n_views, settings=settings, seed=0, eq_db=eq_db)


def data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--devset``, ``--library-dir`` and ``--demo-dir``, the data arguments of the devset benches."""
    parser.add_argument("--devset", type=Path, required=True, help="a devset rendered with --sections")
    parser.add_argument("--library-dir", type=Path, default=None, help="library of the devset (default DEVSET-lib)")
    parser.add_argument("--demo-dir", type=Path, default=None, help="keep (and reuse) the demo library here")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--n-tracks", type=int, default=24, help="demo tracks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ablation", action="store_true", help="feature groups, LOSO on the devset's dev tracks")
    parser.add_argument("--no-cross", action="store_true", help="skip the cross-generator figures")
    parser.add_argument("--rejection-loop", action="store_true",
                        help="simulate a user rejecting wrong suggestions on dev tracks (bench_sections_loop.py)")
    parser.add_argument("--accept-at", type=float, default=0.5,
                        help="with --rejection-loop: the share of a suggestion's windows that must be right to accept it")
    parser.add_argument("--loop-only", action="store_true", help="with --rejection-loop: skip every other table")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--extra", default=None, help="window feature groups of the main table, comma-separated "
                                                      "(default: the trainer's DEFAULT_FEATURES)")
    parser.add_argument("--no-embedding", action="store_true", help="with --extra: leave the backbone embedding out")
    parser.add_argument("--config", type=json.loads, default={},
                        help='section config overrides for every model of the main table, JSON (e.g. \'{"track_jitter": 0.3}\')')
    parser.add_argument("--norm", choices=("z", "rank"), default=None,
                        help="the window layout's track normalisation (default: DEFAULT_FEATURES')")
    parser.add_argument("--audio-views", type=int, default=0,
                        help="augmented audio views of every training track (workbench.train.sections.audio_views)")
    parser.add_argument("--augment", type=json.loads, default={},
                        help='with --audio-views: AugmentSettings overrides and "eq_db", JSON (e.g. \'{"eq_db": 6}\')')
    args = parser.parse_args()

    t0 = time.perf_counter()
    lib_dir = args.library_dir or args.devset.with_name(args.devset.name + "-lib")
    dev_data, split = devset_data(args.devset, library_dir=lib_dir)
    extra = None if args.extra is None else tuple(g for g in args.extra.split(",") if g)
    if args.norm is not None:
        from workbench.train.sections import DEFAULT_FEATURES

        extra = (extra if extra is not None else DEFAULT_FEATURES.extra, {"norm": args.norm})
    if extra is not None:
        dev_data = with_layout(dev_data, extra, embedding=not args.no_embedding)
    print(f"feature groups: {', '.join(dev_data.features.group_names())}")
    dev_ids = [t for t, s in split.items() if s == "dev"]
    held_ids = [t for t, s in split.items() if s == "held_out"]
    print(f"devset {args.devset}: {len(dev_ids)} dev + {len(held_ids)} held-out tracks, "
          f"{sum(dev_data.section_counts().values())} sections, {len({t.group for t in dev_data.tracks})} styles "
          f"({time.perf_counter() - t0:.0f} s to load)")
    from workbench.train.sections import train_sections

    views = {}
    if args.audio_views:
        views["devset"] = with_audio_views(dev_data.subset(dev_ids), library_dir=lib_dir, n_views=args.audio_views,
                                           augment=args.augment)
    out: dict = {"devset": str(args.devset), "seed": args.seed, "feature_groups": dev_data.features.group_names(),
                 "config": args.config}
    if args.rejection_loop:
        from bench_sections_loop import print_loop, rejection_loop

        t1 = time.perf_counter()
        print("\nrejection loop, simulated on the devset's dev tracks (bench_sections_loop.py)")
        out["rejection_loop"] = rejection_loop(dev_data, split, library_dir=lib_dir, seed=args.seed,
                                               offset=DEVSET_ID_OFFSET, accept_at=args.accept_at)
        print_loop(out["rejection_loop"])
        print(f"({time.perf_counter() - t1:.0f} s)")
        if args.loop_only:
            if args.json:
                args.json.write_text(json.dumps(strict_json(out), indent=1, allow_nan=False, default=float) + "\n")
            return
    cols: dict[str, dict] = {}
    demo = None
    if not args.no_cross:
        demo = demo_data(args.n_tracks, seed=args.seed, folder=args.demo_dir)
        if extra is not None:
            demo = with_layout(demo, extra, embedding=not args.no_embedding)
        if args.audio_views:
            views["demo"] = with_audio_views(demo, library_dir=args.demo_dir, n_views=args.audio_views,
                                             augment=args.augment)
    if views:
        print("audio views: " + ", ".join(f"{k} {v['views']} ({v['embedded']} embedded, {v['cached']} cached, "
                                          f"{len(v['failed'])} failed)" for k, v in views.items()))
        out["audio_views"] = {"n_views": args.audio_views, "augment": args.augment,
                              **{k: {**v, "failed": [list(f) for f in v["failed"]]} for k, v in views.items()}}
    # the devset's dev tracks as a user's library: in-domain (a grouped quarter held out), LOSO over its styles,
    # its held-out tracks (same generator, never tuned on) and the demo (another generator)
    t1 = time.perf_counter()
    res = train_sections(dev_data.subset(dev_ids), config={**args.config, "seed": args.seed}, progress=False,
                         external={"devset held-out": dev_data.subset(held_ids),
                                   **({"demo": demo} if demo is not None else {})})
    m = res.metrics
    cols["devset in-domain, dev"] = row(_inside(res))
    cols["devset LOSO, dev"] = row({**m["transfer"]["leave_one_group_out"], "wall_s": time.perf_counter() - t1})
    cols["devset LOSO, held-out"] = row(loso(dev_data, seed=args.seed, test_tracks=held_ids, config=args.config))
    cols["devset dev -> held-out"] = row(m["transfer"]["external"]["devset held-out"])
    if demo is not None:
        cols["devset -> demo"] = row(m["transfer"]["external"]["demo"])
        t1 = time.perf_counter()  # the demo model as `make demo` trains it, scored on the devset
        res = train_sections(demo, config={**args.config, "seed": args.seed}, progress=False,
                             external={"devset dev": dev_data.subset(dev_ids),
                                       "devset held-out": dev_data.subset(held_ids)})
        m = res.metrics
        cols["demo in-domain"] = row(_inside(res))
        cols["demo LOSO"] = row(m["transfer"]["leave_one_group_out"])
        cols["demo -> devset, dev"] = row(m["transfer"]["external"]["devset dev"])
        cols["demo -> devset, held-out"] = row(m["transfer"]["external"]["devset held-out"])
        print(f"demo model trained and scored in {time.perf_counter() - t1:.0f} s")
    print()
    table(cols)
    out["columns"] = cols
    if args.ablation:
        print("\nfeature-group ablation, leave-one-style-out on the devset's dev tracks (smoothed model)")
        print(f"{'layout':<28} {'accuracy':>9} {'macro F1':>9} {'F @3 s':>7} {'F @0.5 s':>9} {'intro/outro':>12} "
              f"{'ECE after':>10}")
        out["ablation"] = {}
        for name, extra in ABLATIONS.items():
            r = row(loso(with_layout(dev_data.subset(dev_ids), extra), seed=args.seed))
            out["ablation"][name] = r
            print(f"{name:<28} {r['accuracy']:>9.3f} {r['macro_f1']:>9.3f} {r['f3']:>7.3f} {r['f05']:>9.3f} "
                  f"{r['io']:>12.3f} {r['ece_after']:>10.3f}")
    print(f"\n({time.perf_counter() - t0:.0f} s in all)")
    if args.json:
        args.json.write_text(json.dumps(strict_json(out), indent=1, allow_nan=False, default=float) + "\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
