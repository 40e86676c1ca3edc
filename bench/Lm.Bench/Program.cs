using Lm.Bench;

return args.FirstOrDefault() switch
{
    "preprocess" => PreprocessBenchmark.Run(args[1..]),
    "train-step" => TrainStepBenchmark.Run(args[1..]),
    "generate" => GenerateBenchmark.Run(args[1..]),
    "memory-step" => MemorySaverBenchmark.RunStep(args[1..]),
    "gemm" => MemorySaverBenchmark.RunGemm(args[1..]),
    "step-profile" => StepProfileBenchmark.Run(args[1..]),
    "dropout" => DropoutBenchmark.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Lm.Bench preprocess <train.txt> [--block-size N] [--workers N] [--cache-root DIR]");
    Console.Error.WriteLine("       Lm.Bench train-step [--steps N] [--warmup N] [--batch N] [--seq N] [--threads N] [--eval-batches N] [--fp32-only|--bf16-only] [--mfu]");
    Console.Error.WriteLine("       Lm.Bench generate [--preset smollm2-135m] [--new-tokens 128] [--prompt 16] [--threads 2]");
    Console.Error.WriteLine("       Lm.Bench memory-step [--preset P] [--batch N] [--seq N] [--steps N] [--warmup N] [--threads N] [--checkpointing] [--loss-chunk N] [--bf16]");
    Console.Error.WriteLine("       Lm.Bench gemm [--preset P] [--tokens N] [--threads N] [--repeats N]");
    Console.Error.WriteLine("       Lm.Bench step-profile [--preset distilgpt2] [--batch N] [--seq N] [--steps N] [--warmup N] [--threads N] [--loss-chunk N] [--fp32] [--separate-clip] [--marks]");
    Console.Error.WriteLine("       Lm.Bench dropout [--repeats N] [--threads N]");
    return 2;
}
