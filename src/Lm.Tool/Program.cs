using System.Text;
using Lm.Tool.Cli;

Console.OutputEncoding = Encoding.UTF8;
// Command bodies run on this (main) thread; the command line is parsed and invoked on the thread pool.
var mainThread = new MainThreadPump();
var app = new LmTuneApp(Console.Out, Console.Error, mainThread);
return mainThread.RunUntilComplete(Task.Run(() => app.InvokeAsync(args)));
