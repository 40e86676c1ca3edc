using System.Net;
using System.Net.Sockets;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Hub;
using Lm.Runtime.Jobs;
using Lm.Runtime.Tests.Data;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Errors;

/// <summary>Engine error codes that no other test reached, each from the input that causes it in docs/errors.md.</summary>
public sealed class RuntimeErrorCodeTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("lm-error-codes-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_safetensors_file_that_cannot_be_written_is_LM0115()
    {
        string notAFolder = Path.Combine(_folder, "a-file");
        File.WriteAllText(notAFolder, "");
        string path = Path.Combine(notAFolder, "model.safetensors");
        using var weight = ones(2, 2);

        var error = Assert.Throws<LmException>(() => SafeTensorsWriter.Write(path, [new("w", weight)]));

        Assert.Equal("LM0115", error.Code);
        Assert.Equal(ErrorCodes.CheckpointWriteFailed, error.Code);
        Assert.Equal(path, error.File);
    }

    public static TheoryData<string, DataArguments> InvalidDataArguments => new()
    {
        { "no data", new DataArguments() },
        { "validation_split_percentage", new DataArguments { TrainFile = TestData.Corpus("wikitext-2-raw/sample/validation.txt"), ValidationSplitPercentage = 150 } },
    };

    [Theory]
    [MemberData(nameof(InvalidDataArguments))]
    public void Out_of_range_or_missing_data_arguments_are_LM0311(string named, DataArguments args)
    {
        var error = Assert.Throws<LmException>(() => DataPipeline.Prepare(args, new CharEncoder(), DataObjective.Clm,
            cacheRoot: Path.Combine(_folder, "cache")));

        Assert.Equal("LM0311", error.Code);
        Assert.Equal(ErrorCodes.InvalidDataArgument, error.Code);
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void A_parquet_file_that_is_not_parquet_is_LM0312()
    {
        string path = Path.Combine(_folder, "train.parquet");
        File.WriteAllText(path, "text\nthis is a CSV file with a parquet name\n");

        var error = Assert.Throws<LmException>(() => TextSource.FromFile(path).ReadRows().ToList());

        Assert.Equal("LM0312", error.Code);
        Assert.Equal(ErrorCodes.MalformedParquet, error.Code);
        Assert.Equal(path, error.File);
    }

    [Fact]
    public async Task An_endpoint_that_is_not_a_hub_is_LM0504()
    {
        // A web server that answers 200 to everything but sends none of the hub's headers (X-Repo-Commit, ETag).
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var server = new HttpListener();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        _ = Task.Run(async () =>
        {
            while (server.IsListening)
            {
                var context = await server.GetContextAsync();
                context.Response.StatusCode = 200;
                await context.Response.OutputStream.WriteAsync("<html>not a hub</html>"u8.ToArray());
                context.Response.Close();
            }
        });
        using var client = new HubClient(new HubSettings { Endpoint = $"http://127.0.0.1:{port}", CacheDir = Path.Combine(_folder, "hub") });

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync("acme/tiny-model", "main", CancellationToken.None));

        Assert.Equal("LM0504", error.Code);
        Assert.Equal(ErrorCodes.HubDownloadFailed, error.Code);
        Assert.Contains("is HF_ENDPOINT a hub?", error.Message);
    }
}
