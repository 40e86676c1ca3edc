using Lm.Bench;

return args.FirstOrDefault() switch
{
    "preprocess" => PreprocessBenchmark.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Lm.Bench preprocess <train.txt> [--block-size N] [--workers N] [--cache-root DIR]");
    return 2;
}
