using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

public class ModelDeviceTests
{
    [Fact]
    public void Cpu_and_auto_resolve_on_this_machine()
    {
        Assert.Equal(DeviceType.CPU, ModelDevice.Parse("cpu").type);
        Assert.Equal(DeviceType.CPU, ModelDevice.Parse(" CPU ").type);
        Assert.Equal(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, ModelDevice.Parse("auto").type);
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    [InlineData("")]
    public void Unknown_devices_are_lm0113(string name)
    {
        Assert.Equal(ErrorCodes.InvalidDevice, Assert.Throws<LmException>(() => ModelDevice.Parse(name)).Code);
    }

    [Fact]
    public void Cuda_without_a_gpu_is_lm0113_and_says_what_to_do()
    {
        if (cuda.is_available())
        {
            Assert.Equal(DeviceType.CUDA, ModelDevice.Parse("cuda").type);
            return;
        }
        var e = Assert.Throws<LmException>(() => ModelDevice.Parse("cuda"));
        Assert.Equal(ErrorCodes.InvalidDevice, e.Code);
        Assert.Contains("--device cpu", e.Message);
    }

    [Theory]
    [InlineData("float32", ScalarType.Float32)]
    [InlineData("fp32", ScalarType.Float32)]
    [InlineData("bfloat16", ScalarType.BFloat16)]
    [InlineData("BF16", ScalarType.BFloat16)]
    public void Dtypes_parse(string name, ScalarType expected)
    {
        Assert.Equal(expected, ModelDtype.Parse(name));
    }

    [Fact]
    public void Auto_dtype_follows_the_config_and_float16_is_refused()
    {
        Assert.Equal(ScalarType.BFloat16, ModelDtype.Parse("auto", new Gpt2Config { TorchDtype = "bfloat16" }));
        Assert.Equal(ScalarType.Float32, ModelDtype.Parse("auto", new Gpt2Config { TorchDtype = "float16" }));
        Assert.Equal(ErrorCodes.UnsupportedModelDtype, Assert.Throws<LmException>(() => ModelDtype.Parse("float16")).Code);
    }
}
