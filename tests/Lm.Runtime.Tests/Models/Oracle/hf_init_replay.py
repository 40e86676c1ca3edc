# HF transformers 4.46 construction + post_init order, replayed with plain torch (no transformers here).
import math, torch
from torch import nn
torch.set_num_threads(1)
ir = 0.02

def conv1d(nf, nx):
    w = torch.empty(nx, nf); nn.init.normal_(w, std=0.02); return w

def gpt2(seed, V=1000, P=64, E=32, L=2):
    torch.manual_seed(seed)
    wte = nn.Embedding(V, E); wpe = nn.Embedding(P, E)
    blocks = []
    for i in range(L):
        nn.LayerNorm(E)
        b = dict(c_attn=conv1d(3*E, E), c_proj=conv1d(E, E))
        nn.LayerNorm(E)
        b.update(c_fc=conv1d(4*E, E), mlp_proj=conv1d(E, 4*E))
        blocks.append(b)
    nn.LayerNorm(E)
    with torch.no_grad():
        wte.weight.normal_(0, ir); wpe.weight.normal_(0, ir)
        for b in blocks:
            b['c_attn'].normal_(0, ir); b['c_proj'].normal_(0, ir); b['c_proj'].normal_(0, ir / math.sqrt(2 * L))
            b['c_fc'].normal_(0, ir); b['mlp_proj'].normal_(0, ir); b['mlp_proj'].normal_(0, ir / math.sqrt(2 * L))
        lm = nn.Linear(E, V, bias=False)
        lm.weight.normal_(0, ir)
    after = torch.rand(1).item()
    return dict(wte=wte.weight, wpe=wpe.weight, h0_c_attn=blocks[0]['c_attn'], h1_mlp_c_proj=blocks[1]['mlp_proj']), after

def encoder(seed, roberta, V=1000, H=32, L=2, I=64, P=66, T=1, pad=1):
    torch.manual_seed(seed)
    word = nn.Embedding(V, H, padding_idx=pad)
    pos = nn.Embedding(P, H)
    tt = nn.Embedding(T, H)
    nn.LayerNorm(H)
    if roberta:
        pos = nn.Embedding(P, H, padding_idx=pad)
    layers = []
    for i in range(L):
        q = nn.Linear(H, H); k = nn.Linear(H, H); v = nn.Linear(H, H)
        o = nn.Linear(H, H); nn.LayerNorm(H)
        inter = nn.Linear(H, I)
        out = nn.Linear(I, H); nn.LayerNorm(H)
        layers.append([q, k, v, o, inter, out])
    with torch.no_grad():
        word.weight.normal_(0, ir); word.weight[pad].zero_()
        pos.weight.normal_(0, ir)
        if roberta: pos.weight[pad].zero_()
        tt.weight.normal_(0, ir)
        for layer in layers:
            for lin in layer:
                lin.weight.normal_(0, ir); lin.bias.zero_()
        dense = nn.Linear(H, H)
        if roberta:
            nn.LayerNorm(H); nn.Linear(H, V)
        else:
            nn.LayerNorm(H); nn.Linear(H, V, bias=False)
        dense.weight.normal_(0, ir)
        torch.empty(V, H).normal_(0, ir)
    after = torch.rand(1).item()
    return dict(word=word.weight, pos=pos.weight, l1_value=layers[1][2].weight, head_dense=dense.weight), after

def show(name, d, after):
    print(name)
    for k, t in d.items():
        print(' ', k, [repr(float(x)) for x in t.reshape(-1)[:3].tolist()], repr(float(t.double().sum())))
    print('  next uniform', repr(after))

show('gpt2 seed 42', *gpt2(42))
show('roberta seed 42', *encoder(42, True))
show('bert seed 42', *encoder(42, False, P=64, T=2, pad=0))
