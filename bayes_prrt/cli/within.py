"""``bayes-prrt within``: a within-study subgroup contrast pooled across the studies that report it."""

from __future__ import annotations

import click

from .commands import dump_json, json_option, main, seed_option


@main.command(name="within")
@click.option("--outcome", required=True, help="Time-to-event outcome (PFS or OS).")
@click.option("--by", required=True, help="What the subgroups split: grade, site or activity in the shipped data.")
@click.option("--level", required=True, help="The subgroup compared, e.g. G3.")
@click.option("--reference", required=True, help="The subgroup it is compared with, e.g. G1.")
@click.option("--adjusted", is_flag=True, help="Use the adjusted (multivariate Cox) hazard ratios, not the unadjusted.")
@click.option("--file", "file_path", type=click.Path(dir_okay=False), default=None,
              help="A within-study CSV (columns of docs/data.md) instead of the embedded data/within_study.csv.")
@click.option("--prior-mu", default=None, help="Prior for the mean log median ratio [default normal:0,1].")
@click.option("--prior-tau", default=None, help="Prior for tau [default that of the log-median model].")
@seed_option
@json_option
@click.argument("statements", nargs=-1)
def within(outcome, by, level, reference, adjusted, file_path, prior_mu, prior_tau, seed, as_json, statements):
    """Pool each study's own comparison of two subgroups (hazard ratios or subgroup medians; no ecological
    bias) and answer statements such as "G3 < G1" (the median of G3 below G1's)."""
    from ..bayes.within import within_study

    if file_path is None:
        from ..data.dataset import load_dataset

        data = load_dataset()
    else:
        from ..data.within import read_within

        data = read_within(file_path)
    fit = within_study(data, outcome, by, level, reference, "adjusted" if adjusted else "unadjusted",
                       {"mu": prior_mu, "tau": prior_tau}, seed)
    answers = [fit.prob(text) for text in statements]
    if as_json:
        dump_json(fit.to_dict() | {"statements": answers})
        return
    click.echo(str(fit))
    for a in answers:
        click.echo(f"P({outcome}: {a['statement']}, within-study) = {a['probability']:.3f}  (exact)")
