using System.Collections.Concurrent;

namespace Lm.Tool.Cli;

/// <summary>
/// Runs command bodies, awaits included, on the process's main thread while System.CommandLine (signal handling,
/// the termination timeout) runs elsewhere. Why: glibc gives the main thread its main heap; any other thread gets a
/// secondary arena whose heaps are at most 64 MB, so every larger buffer libtorch allocates there (a training
/// batch's logits are hundreds of MB) becomes a fresh mmap that the kernel zeroes and unmaps again. Training on the
/// main thread, where lm-tune keeps large buffers in the heap, ran the quick start's 30 steps in 16.5 s instead of 78 s.
/// </summary>
internal sealed class MainThreadPump : SynchronizationContext
{
    private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = new();

    /// <summary>Schedules a command body on the main thread; its awaits resume there too.</summary>
    public Task<T> Run<T>(Func<Task<T>> body)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(async _ =>
        {
            try
            {
                completion.SetResult(await body());
            }
            catch (Exception e)
            {
                completion.SetException(e);
            }
        }, null);
        return completion.Task;
    }

    public override void Post(SendOrPostCallback d, object? state)
    {
        // After the invocation has ended (it gave up on a body after Ctrl+C) the process is exiting: work that
        // arrives then has nowhere to run.
        try
        {
            _queue.Add((d, state));
        }
        catch (InvalidOperationException) when (_queue.IsAddingCompleted)
        {
        }
    }

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("Synchronous dispatch to the main thread is not used.");

    /// <summary>
    /// Runs the queued work on the calling (main) thread until <paramref name="invocation"/> has finished and
    /// nothing is left, then returns its exit code. When the invocation gives up on a body that does not stop (the
    /// termination timeout after Ctrl+C), the process exits with the invocation's code without waiting for it.
    /// </summary>
    public int RunUntilComplete(Task<int> invocation)
    {
        var previous = Current;
        SetSynchronizationContext(this);
        var drained = new ManualResetEventSlim();
        invocation.ContinueWith(_ =>
        {
            _queue.CompleteAdding();
            if (!drained.Wait(TimeSpan.FromSeconds(5)))
                Environment.Exit(invocation.IsCompletedSuccessfully ? invocation.Result : ExitCodes.Failure);
        }, TaskScheduler.Default);
        try
        {
            foreach (var (callback, state) in _queue.GetConsumingEnumerable()) callback(state);
        }
        finally
        {
            drained.Set();
            SetSynchronizationContext(previous);
        }
        return invocation.GetAwaiter().GetResult();
    }
}
