"""Output comparison for `tutor check --run`."""

from __future__ import annotations

from tutor.engine.compare import compare_output, lines_match, numbers_close


def test_numbers_within_tolerance_match():
    assert lines_match("Epoch  100/1000 Cost: 0.761050", "Epoch 100/1000 Cost: 0.761051")
    assert lines_match("tensor([0.0900, 0.2447, 0.6652])", "tensor([0.09, 0.24470, 0.66521])")
    assert lines_match("big 123456.0", "big 123466.0")  # 1e-4 relative
    assert not lines_match("Cost: 0.761050", "Cost: 0.761250")
    assert not lines_match("big 123456.0", "big 123486.0")


def test_text_between_numbers_must_match_but_not_its_spacing():
    assert lines_match("tensor([[ 1.0000, -2.0000]])", "tensor([[1.0000,-2.0000]])")
    assert not lines_match("tensor([1.0])", "array([1.0])")
    assert not lines_match("grad_fn=<SoftmaxBackward0>", "grad_fn=<MeanBackward0>")
    assert not lines_match("1 2", "1 2 3")


def test_one_unit_of_the_last_printed_digit_passes_more_fails():
    # lesson 07 on an AVX512 CPU: the block says 2.352, this machine prints 2.353
    assert lines_match("Epoch 11/20 iterations 3 Cost: 2.352", "Epoch 11/20 iterations 3 Cost: 2.353")
    assert lines_match("Cost: 2.352", "Cost: 2.351")
    assert not lines_match("Cost: 2.352", "Cost: 2.452")
    assert not lines_match("Cost: 2.352", "Cost: 2.354")
    assert lines_match("W: 0.000", "W: 0.001") and not lines_match("W: 0.000", "W: 0.002")
    # the unit is the expected text's, however many digits the actual output has
    assert lines_match("loss 0.25", "loss 0.2593") and not lines_match("loss 0.25", "loss 0.2612")
    assert lines_match("tensor([1.2345e-05])", "tensor([1.2346e-05])")
    assert not lines_match("tensor([1.2345e-05])", "tensor([1.2347e-05])")
    assert lines_match("w.grad = 10.0", "w.grad = 10.1") and not lines_match("w.grad = 10.0", "w.grad = 10.2")


def test_integers_must_be_equal():
    assert not lines_match("step 2", "step 3")
    assert not lines_match("Epoch 100/1000", "Epoch 101/1000")
    assert not lines_match("count 100000", "count 100001")  # no relative slack either
    assert lines_match("loss 3", "loss 3.00001") and not lines_match("loss 3", "loss 3.01")
    assert lines_match("tensor(8.)", "tensor(8.0000)")  # `8.` is a float: relative rule only
    assert not lines_match("tensor(8.)", "tensor(9.)")


def test_memory_addresses_are_ignored():
    assert lines_match("<torch._C.Generator object at 0x7f2a1c3e5b70>",
                       "<torch._C.Generator object at 0x55d0c0ffee00>")
    assert not lines_match("<torch._C.Generator object at 0x7f2a1c3e5b70>",
                           "<torch._C.Device object at 0x7f2a1c3e5b70>")
    assert not lines_match("value 0x7f", "value 0x80")  # a hex value that is not an address


def test_grad_fn_names_compared_without_their_version_digit():
    assert lines_match("tensor(1.4689, grad_fn=<MeanBackward1>)", "tensor(1.4689, grad_fn=<MeanBackward0>)")
    assert lines_match("grad_fn=<SoftmaxBackward>", "grad_fn=<SoftmaxBackward0>")
    assert not lines_match("tensor(1.4689, grad_fn=<MeanBackward1>)", "tensor(1.4689, grad_fn=<SumBackward0>)")
    assert not lines_match("tensor(1.4689, grad_fn=<MeanBackward1>)", "tensor(1.5689, grad_fn=<MeanBackward0>)")


def test_special_values():
    assert numbers_close(float("nan"), float("nan"))
    assert numbers_close(float("inf"), float("inf"))
    assert not numbers_close(float("inf"), float("-inf"))
    assert not numbers_close(float("nan"), 0.0)
    assert lines_match("cost: nan", "cost: nan") and not lines_match("cost: nan", "cost: 1.0")
    assert lines_match("1e-05", "0.00001")


def test_blank_lines_are_ignored_and_first_difference_is_located():
    expected = "a 1\n\nb 2\nc 3\n"
    assert compare_output(expected, "a 1.00001\nb 2\n\nc 3") is None
    mismatch = compare_output(expected, "a 1\nb 2\nc 4\n")
    assert (mismatch.index, mismatch.expected, mismatch.got) == (3, "c 3", "c 4")
    assert "expected 'c 3', got 'c 4'" == mismatch.describe()


def test_missing_and_extra_lines():
    missing = compare_output("a\nb\n", "a\n")
    assert (missing.index, missing.expected, missing.got) == (1, "b", None)
    assert "got nothing more" in missing.describe()
    extra = compare_output("a\n", "a\nb\n")
    assert (extra.index, extra.expected, extra.got) == (1, None, "b")
    assert compare_output("", "") is None


def test_run_and_compare_names_the_file_line_of_the_differing_output_line(make_lesson):
    from tutor.engine.run_check import run_and_compare

    lesson = make_lesson([
        ("import torch\nprint(torch.tensor([1.0, 2.0]) / 3)\n", "tensor([0.3333, 0.6667])"),
        ("for i in range(3):\n    print('step', i)\n", "step 0\nstep 1\nstep 3"),
        ("x = 7\nx\n", "7"),
    ])
    problems = run_and_compare(lesson)
    assert len(problems) == 1
    problem = problems[0]
    assert problem.path == lesson.path and problem.line == lesson.cells[1].expected.line + 3
    assert lesson.path.read_text().splitlines()[problem.line - 1] == "step 3"
    assert problem.message == (
        "output differs\n"
        "    expected: step 3\n"
        "                   ^\n"
        "    got:      step 2\n"
        "                   ^"
    )


def test_the_first_difference_is_marked_in_long_lines_that_differ_late():
    from tutor.engine.compare import compare_output, first_difference
    from tutor.engine.run_check import describe

    head = "tensor([" + ", ".join(f"{i}.0000" for i in range(30))
    expected, got = head + ", 1.5000])", head + ",  1.7000])"
    assert first_difference(expected, got) == (len(head) + 2, len(head) + 3)
    text = describe(compare_output(expected, got))
    rows = text.split("\n")
    # both shown lines differ (the old message cut both before the difference)
    assert "1.5000" in rows[1] and "1.7000" in rows[3] and rows[1].startswith("    expected: …")
    assert rows[2].index("^") == rows[1].index("1.5000") and rows[4].index("^") == rows[3].index("1.7000")
    assert first_difference("x at 0x7f12 y", "x at 0x881222 z") == (12, 14)
    assert first_difference("grad_fn=<MeanBackward1>)", "grad_fn=<SumBackward0>)") == (9, 9)


def test_run_and_compare_reports_an_exception_and_skips_cells_that_never_ran(make_lesson):
    from tutor.engine.run_check import run_and_compare

    lesson = make_lesson([("print('a')\n", "a"), ("x = 1\nraise KeyError('k')\n", "never"), ("print('b')\n", "c")])
    problems = run_and_compare(lesson)
    assert [(p.line, p.message) for p in problems] == [(lesson.cells[1].line + 1, "KeyError: 'k'")]
