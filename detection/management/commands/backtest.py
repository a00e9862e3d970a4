"""Replay a labelled file through the real features and models and write the figures as JSON (no database)."""

import json
from dataclasses import fields
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from detection.backtests.files import MappingError, load_frame, parse_mapping, same_name_pairs
from detection.engine.backtest import FEEDBACK, BacktestConfig, run_backtest
from detection.engine.leakage import label_leaks
from detection.engine.offering import (
    DEFAULT_EXPLORE_SHARE,
    DEFAULT_INVESTIGATE,
    DEFAULT_INVESTIGATE_SHARE,
    investigations,
)


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _params(values: list[str]) -> dict:
    params = {}
    for value in values:
        name, _, number = value.partition("=")
        try:
            params[name.strip()] = float(number) if "." in number else int(number)
        except ValueError as error:
            raise CommandError(f"--param {value!r}: expected name=number") from error
    return params


class Command(BaseCommand):
    help = "Backtest the detector on a labelled CSV or Parquet file and write ROC AUC, AP, precision@k, CP@100."

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, help="a .csv or .parquet file")
        parser.add_argument(
            "--map",
            nargs="+",
            action="extend",
            metavar="canonical=column",
            help="the file's column of each canonical field; without it, the columns named as canonical fields",
        )
        parser.add_argument("--attributes", type=_names, default=[], help="extra columns the sender supplies")
        parser.add_argument("--label", required=True, help="the label column (1 fraud, 0 legitimate)")
        parser.add_argument("--exclude", type=_names, default=[], help="columns never read (e.g. the scenario)")
        parser.add_argument("--split-column", help="rows valued train / val / test")
        parser.add_argument("--train-days", type=int, default=7)
        parser.add_argument("--delay-days", type=int, default=7)
        parser.add_argument("--test-days", type=int, default=7)
        parser.add_argument("--start", help="first training day, YYYY-MM-DD (default: the file's first day)")
        parser.add_argument("--folds", type=int, default=1, help="prequential folds, one test period apart")
        parser.add_argument("--feedback", choices=FEEDBACK, default="none")
        parser.add_argument("--reviews-per-day", type=int, default=100)
        parser.add_argument("--label-delay-days", type=int, default=7)
        parser.add_argument(
            "--label-history-days",
            type=int,
            default=28,
            help="with reported labels, days of labels before the first training day the supervised part learns from",
        )
        parser.add_argument("--explore-share", type=float, default=DEFAULT_EXPLORE_SHARE, help="with reviews")
        parser.add_argument("--investigate-share", type=float, default=DEFAULT_INVESTIGATE_SHARE, help="with reviews")
        parser.add_argument(
            "--investigate",
            default=",".join(DEFAULT_INVESTIGATE),
            help="with reviews: which investigations a confirmed fraud opens, in order (merchant,card; empty: none)",
        )
        parser.add_argument("--queue-days", type=int, default=3, help="with reviews: days an item stays a candidate")
        parser.add_argument(
            "--investigate-days", type=int, default=7, help="with reviews: days a confirmed fraud widens the reviews"
        )
        parser.add_argument(
            "--unlabelled-weight",
            type=float,
            default=0.1,
            help="with reviews: weight of an unlabelled row counted legitimate (0: not used)",
        )
        parser.add_argument(
            "--param",
            nargs="+",
            action="extend",
            default=[],
            metavar="name=number",
            help="detector parameters (e.g. trust_folds=0 to trust the supervised part unmeasured)",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", required=True, help="where to write the figures")

    def handle(self, *args, **options):
        try:
            options["investigate"] = investigations(options["investigate"])
        except ValueError as error:
            raise CommandError(f"--{error}") from error  # "--investigate: … not among …"
        try:
            frame, split = load_frame(
                options["input"],
                mapping=parse_mapping(options["map"] or same_name_pairs(options["input"])),
                label=options["label"],
                attributes=options["attributes"],
                exclude=options["exclude"],
                split_column=options["split_column"],
            )
        except (MappingError, FileNotFoundError, KeyError, ValueError) as error:
            raise CommandError(str(error)) from error
        leaks = label_leaks({name: frame[f"attr_{name}"] for name in options["attributes"]}, frame["label"])
        if leaks:  # as the backtest page refuses them
            raise CommandError(
                " ".join(f"{leak.describe(options['label'])} Leave it out of --attributes." for leak in leaks)
            )
        start = None
        if options["start"]:
            start = int(pd.Timestamp(options["start"], tz="UTC").timestamp())
        # Every other field of the configuration is the option of its name.
        given = {f.name: options[f.name] for f in fields(BacktestConfig) if f.name in options}
        params = _params(options["param"])
        config = BacktestConfig(**given | {"split": split, "start": start, "detector_params": params})
        result = run_backtest(frame, config)
        Path(options["json"]).write_text(json.dumps(result, indent=2))
        for model, figures in result["models"].items():
            shown = ", ".join(f"{k} {v:.4f}" for k, v in figures.items() if v is not None)
            self.stdout.write(f"{model:17s} {shown}")
        self.stdout.write(f"rows scored {result['rows_scored']}, {result['seconds']} s -> {options['json']}")
