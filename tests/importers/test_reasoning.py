from importers.reasoning import split_reasoning


def test_blocks_joined_with_offsets_and_output_extracted():
    text = (
        "<SCRATCHPAD_REASONING>first</SCRATCHPAD_REASONING>\n"
        "<HIDDEN_SCRATCHPAD>second</HIDDEN_SCRATCHPAD><OUTPUT>done</OUTPUT>"
    )
    split = split_reasoning(text)
    assert split.output == "done"
    assert [split.scratchpad[a:b] for a, b in split.blocks] == ["first", "second"]


def test_think_blocks_and_untagged_output():
    split = split_reasoning("<think>hmm</think>The answer.")
    assert split.scratchpad == "hmm" and split.output == "The answer."


def test_unclosed_block_runs_to_end():
    split = split_reasoning("<SCRATCHPAD_REASONING>cut off")
    assert split.scratchpad == "cut off" and split.output == ""
