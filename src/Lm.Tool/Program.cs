using System.Text;
using Lm.Tool.Cli;

Console.OutputEncoding = Encoding.UTF8;
return await new LmTuneApp(Console.Out, Console.Error).InvokeAsync(args);
