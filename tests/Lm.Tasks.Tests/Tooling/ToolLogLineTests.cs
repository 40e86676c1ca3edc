using Lm.Tasks.Tooling;

namespace Lm.Tasks.Tests.Tooling;

public class ToolLogLineTests
{
    [Fact]
    public void Coded_error_line_becomes_an_error_with_its_code()
    {
        Assert.Equal(new ToolLogLine(ToolLineKind.Error, "learning_rate expects a number, got 'fast'", "LM0403"),
            ToolLogLine.Parse("error LM0403: learning_rate expects a number, got 'fast'"));
    }

    [Fact]
    public void Canonical_location_is_kept()
    {
        Assert.Equal(new ToolLogLine(ToolLineKind.Warning, "empty line skipped", "LM0301", "data/train.txt", 12, 3),
            ToolLogLine.Parse("data/train.txt(12,3): warning LM0301: empty line skipped"));
    }

    [Fact]
    public void Uncoded_warning_is_a_warning_without_code()
    {
        Assert.Equal(new ToolLogLine(ToolLineKind.Warning, "no pad token; using eos"), ToolLogLine.Parse("warning: no pad token; using eos"));
    }

    [Theory]
    [InlineData("train: 120 loss=3.2104 lr=4.8e-05")]
    [InlineData("eval: 3")]
    [InlineData("{'loss': 3.21, 'grad_norm': 1.5, 'learning_rate': 4.9e-05, 'epoch': 0.1}")]
    [InlineData("{\"loss\": 3.21, \"step\": 10}")]
    [InlineData("step 10/100 loss 3.21")]
    [InlineData(" 45%|████▌     | 45/100 [00:10<00:12, 4.4it/s]")]
    [InlineData("10/100 [00:02<00:20]")]
    public void Per_step_progress_is_detail(string line)
    {
        Assert.Equal(ToolLineKind.Step, ToolLogLine.Parse(line).Kind);
    }

    [Theory]
    [InlineData("Loading model tiny-gpt2")]
    [InlineData("train: 500 steps")]
    [InlineData("train: started")]
    [InlineData("train: done in 80.2 s, 6.23 it/s")]
    [InlineData("***** Running training *****")]
    [InlineData("  Num examples = 1,000")]
    [InlineData("the error LM0403 is mentioned mid-line")]
    public void Other_lines_are_phases(string line)
    {
        Assert.Equal(ToolLineKind.Phase, ToolLogLine.Parse(line).Kind);
    }
}
