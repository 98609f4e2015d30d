"""The accuracy guard's tolerance (issue 21: "a user cannot trade accuracy for the class"): a phase that OBA alone
held back is named with its trade and the tolerance that would accept it, in the CLI, report.md and chat; a run
with that tolerance accepts it; the tolerance is a setting of the CLI, the chat command and the run."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace

import pytest

from agent.answers import finished_message
from agent.requests import Clarify, Request, parse_command
from agent.requests.commands import HELP
from autogets.cli import main
from autogets.data import load_dataset, split_dataset
from autogets.generators.base import RawOutput, SourceExample
from autogets.improve import improve
from autogets.report import held_trade
from autogets.steps import RunSpec, spec_of
from autogets.workspace import Workspace


class TradeGenerator:
    """Texts that buy recall of the class with accuracy: generic "what is …" questions over words of the whole
    training split, labelled as the class, so the model predicts the class more often, rightly or not."""

    name = "trade"
    model = "trade"
    prompt_version = "v1"
    uses_context = False

    def __init__(self, words: Sequence[str]):
        self.words = list(words)

    def generate(self, examples: Sequence[SourceExample], n_per_example: int, *, class_name: str,
                 context: Sequence[str] = (), seed: int = 0, hint: str = "") -> Iterator[RawOutput]:
        for e in examples:  # called in batches: the words depend on the example, not its position
            w = [self.words[(5 * e.id + j) % len(self.words)] for j in range(5)]
            yield RawOutput(example=e, texts=(f"What is {w[0]} ?", f"What is a {w[1]} ?", f"What does {w[2]} mean ?",
                                              f"What is the {w[3]} ?", f"What are {w[4]} ?"))


@pytest.fixture(scope="module")
def traded(tmp_path_factory):
    """One run at the default tolerance (held back), then the same request with the tolerance it names (NUM: enough
    examples per fold that the recall gain is above noise)."""
    ws = Workspace(tmp_path_factory.mktemp("ws"))
    split = split_dataset(load_dataset("trec6"), seed=42)
    gen = TradeGenerator(sorted({w.lower() for t in split.train["text"] for w in re.findall(r"[A-Za-z]{6,}", t)}))
    spec = RunSpec(dataset="trec6", target="NUM", objective="recall", budget=10, max_phases=1, classifier="linear",
                   n_per_example=5)
    held = improve(ws, spec=spec, generator=gen, executor="serial")
    trade = held_trade(held.data)
    assert trade is not None, [(d["decision"], d["added_texts"], d["evaluations"]) for d in held.data["decisions"]]
    accepted = improve(ws, spec=replace(spec, oba_tolerance=trade["accepting_tolerance"]), generator=gen,
                       executor="serial")
    return held, trade, accepted


def test_a_trade_held_back_is_named_with_the_tolerance_that_accepts_it(traded, capsys):
    held, trade, _ = traded
    assert held.model_id is None and held.status == "no_gain"
    (decision,) = held.data["decisions"]
    assert not decision["accepted"] and "is above noise, but OBA would drop by" in decision["decision"]
    assert trade["gain"] > 0 and trade["oba_change"] < -0.001 and trade["accuracy_change"] < 0
    assert trade["tolerance"] == 0.001 and trade["accepting_tolerance"] >= -trade["oba_change"]
    assert trade["accepting_tolerance"] - 0.001 < -trade["oba_change"]  # the smallest step of 0.001 that accepts

    from autogets.cli.improve import print_report

    print_report(held)
    flat = " ".join(capsys.readouterr().out.split())
    tol = f"{trade['accepting_tolerance']:g}"
    assert "No gain" in flat and f"The accuracy guard held back what {decision['phase']} found: recall:NUM +" in flat
    assert f"accuracy {100 * trade['accuracy_change']:+.1f} points" in flat
    assert f"run again with --oba-tolerance {tol}." in flat
    assert f"`--oba-tolerance {tol}` (CLI)" in (held.report_dir / "report.md").read_text()
    chat = finished_message(held.data, None)
    assert chat.startswith("No gain") and f"add oba-tolerance {tol} to the improve command." in chat

    from agent.api import Turn
    from bot import blocks

    message = blocks.report_message(Turn("t", "no_gain", chat, run_id=held.run_id, report=held.data), "t")
    shown = " ".join(b["text"]["text"] for b in message["blocks"] if b.get("type") == "section" and "text" in b)
    assert f"add oba-tolerance {tol} to the improve command." in shown  # the Slack thread says it too


def test_the_tolerance_it_names_accepts_the_trade(traded):
    _, trade, accepted = traded
    (decision,) = accepted.data["decisions"]
    assert decision["accepted"] and decision["held_by_oba"] is None
    assert accepted.model_id == "trec6-v1" and accepted.data["synthetic_texts"] > 0
    assert accepted.data["selection"]["oba_tolerance"] == trade["accepting_tolerance"]
    assert held_trade(accepted.data) is None and "oba-tolerance" not in finished_message(accepted.data, "trec6-v1")


def test_the_cli_refuses_a_tolerance_outside_0_to_1_before_any_work(tmp_path, capsys):
    code = main(["improve", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--oba-tolerance", "1.5",
                 "--workspace", str(tmp_path / "ws")])
    assert code == 2 and "--oba-tolerance" in capsys.readouterr().err
    assert not (tmp_path / "ws" / "reports").exists()


def test_the_cli_tolerance_is_the_runs_and_the_plan_says_so(tmp_path, capsys):
    import json

    code = main(["improve", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--n", "2", "--budget", "4",
                 "--max-phases", "1", "--oba-tolerance", "0.02", "--executor", "serial",
                 "--workspace", str(tmp_path / "ws")])
    flat = " ".join(capsys.readouterr().out.split())
    assert code == 0
    assert "Accuracy guard: a change may lower OBA by at most 0.02 (oba-tolerance; default 0.001)" in flat
    (report,) = (tmp_path / "ws" / "reports").glob("improve-trec6-*/report.json")
    data = json.loads(report.read_text())
    assert data["selection"]["oba_tolerance"] == 0.02
    assert spec_of(Workspace(tmp_path / "ws"), data["run_id"]).oba_tolerance == 0.02  # kept for --resume


CATALOG = {"trec6": ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]}


@pytest.mark.parametrize("text, tolerance", [("improve ABBR on trec6 oba-tolerance 0.005", 0.005),
                                             ("improve abbr on trec6 budget 50 OBA-Tolerance .02", 0.02),
                                             ("improve ABBR on trec6 oba-tolerance 1e-3", 0.001),
                                             ("improve ABBR on trec6 oba-tolerance 0", 0.0)])
def test_a_chat_command_sets_the_tolerance_and_reads_back(text, tolerance):
    assert "[oba-tolerance <X>]" in HELP
    request = parse_command(text, CATALOG)
    assert isinstance(request, Request) and request.oba_tolerance == tolerance
    assert parse_command(request.command(), CATALOG) == request


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "inf", "0.5%", "lots"])
def test_a_chat_tolerance_outside_0_to_1_is_a_clarification(value):
    answer = parse_command(f"improve ABBR on trec6 oba-tolerance {value}", CATALOG)
    assert isinstance(answer, Clarify) and "OBA tolerance must be a number from 0 to 1" in answer.message
    assert answer.suggestions == ("improve ABBR on trec6",)


def test_the_chat_tolerance_reaches_the_run(tmp_path):
    from tests.test_agent import make_agent

    agent, _ = make_agent(tmp_path / "ws")
    try:
        events: list[dict] = []
        turn = agent.ask("t:tol", "improve ABBR on trec6 oba-tolerance 0.02", user="alice", on_event=events.append)
        assert turn.status == "review"
        (plan,) = [e for e in events if e["step"] == "plan"]  # the thread's plan message says it
        assert plan["message"] == ("Accuracy guard: a change may lower OBA by at most 0.02 (oba-tolerance; default "
                                   "0.001).")
        from bot.blocks import progress_line

        assert "may lower OBA by at most 0.02" in progress_line(plan)
        assert spec_of(Workspace(tmp_path / "ws"), turn.run_id).oba_tolerance == 0.02
    finally:
        agent.close()


@pytest.mark.parametrize("drop, tolerance", [(0.0047, 0.005), (0.005, 0.005), (0.00500001, 0.006),
                                             (0.0383, 0.039), (0.0001, 0.001), (0.9 - 0.897, 0.003)])
def test_the_tolerance_named_is_the_smallest_step_that_accepts_the_drop(drop, tolerance):
    """The last case is 0.0030000000000000027 in floating point: an OBA drop of 0.003, which 0.003 accepts. The guard
    is :func:`oba_within`, the test :func:`verdict` applies."""
    from autogets.report import accepting_tolerance
    from autogets.search.robust import oba_within

    assert accepting_tolerance(drop) == pytest.approx(tolerance)
    assert oba_within(-drop, accepting_tolerance(drop)) and not oba_within(-drop, accepting_tolerance(drop) - 0.001)


def test_a_tolerance_with_the_no_drop_rule_is_refused_in_one_line(tmp_path, capsys):
    code = main(["improve", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--accept", "no_drop",
                 "--oba-tolerance", "0.01", "--workspace", str(tmp_path / "ws")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "applies to the paired accept rule only" in err
    assert not (tmp_path / "ws" / "autogets.db").exists() or not list((tmp_path / "ws").glob("reports/*"))


def test_an_llm_tolerance_is_checked_as_a_number():
    from agent.requests.catalog import as_catalog
    from agent.requests.check import _check
    from agent.requests.commands import _Draft

    ok = _check(_Draft("improve", dataset="trec6", target="ABBR", oba_tolerance=0.00012345678901234567),
                as_catalog(CATALOG))
    assert isinstance(ok, Request) and ok.oba_tolerance == 0.00012345678901234567
    assert parse_command(ok.command(), CATALOG) == ok
    for bad in (float("nan"), float("inf"), -0.5, 2.0):
        assert isinstance(_check(_Draft("improve", dataset="trec6", target="ABBR", oba_tolerance=bad),
                                 as_catalog(CATALOG)), Clarify)


def test_the_cli_report_keeps_its_model_line_whatever_the_trade(traded, capsys):
    """The trade sentence is an addition: a run without one still ends as before ("No gain", or its model), and a
    registered model that also had a phase held back is named with how to promote it."""
    from autogets.cli.improve import print_report

    held, _, accepted = traded
    no_trade = replace(held, data={**held.data, "decisions": [{**d, "held_by_oba": None}
                                                              for d in held.data["decisions"]]})
    print_report(no_trade)
    flat = " ".join(capsys.readouterr().out.split())
    assert "No gain" in flat and "Model None" not in flat and "accuracy guard" not in flat

    both = replace(accepted, data={**accepted.data, "decisions": [*accepted.data["decisions"],
                                                                  *held.data["decisions"]]})
    print_report(both)
    flat = " ".join(capsys.readouterr().out.split())
    assert f"Model {accepted.model_id}: candidate; promote with" in flat and "The accuracy guard held back" in flat
    chat = finished_message(both.data, accepted.model_id)
    assert f"promote it with: promote {accepted.model_id}. The accuracy guard" in chat
