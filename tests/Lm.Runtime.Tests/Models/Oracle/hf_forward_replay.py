# HF transformers 4.46 forward math (eager paths of modeling_gpt2 / modeling_roberta / modeling_bert), in plain
# PyTorch, on the weights HF's seeded initialisation gives (replayed as in hf_init_replay.py).
import math, torch
from torch import nn
import torch.nn.functional as F
torch.set_num_threads(1)
ir = 0.02
MIN = torch.finfo(torch.float32).min

def conv1d(nf, nx):
    w = torch.empty(nx, nf); nn.init.normal_(w, std=0.02); return w

def gpt2_weights(seed, V=1000, P=64, E=32, L=2):
    torch.manual_seed(seed)
    wte = nn.Embedding(V, E).weight.data; wpe = nn.Embedding(P, E).weight.data
    blocks = []
    for i in range(L):
        b = dict(c_attn=conv1d(3*E, E), c_proj=conv1d(E, E), c_fc=conv1d(4*E, E), mlp_proj=conv1d(E, 4*E))
        blocks.append(b)
    wte.normal_(0, ir); wpe.normal_(0, ir)
    for b in blocks:
        b['c_attn'].normal_(0, ir); b['c_proj'].normal_(0, ir); b['c_proj'].normal_(0, ir / math.sqrt(2 * L))
        b['c_fc'].normal_(0, ir); b['mlp_proj'].normal_(0, ir); b['mlp_proj'].normal_(0, ir / math.sqrt(2 * L))
    return wte, wpe, blocks

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

def ln(x, eps):
    return F.layer_norm(x, (x.shape[-1],), torch.ones(x.shape[-1]), torch.zeros(x.shape[-1]), eps)

def gpt2_forward(ids, mask, w, H=2):
    wte, wpe, blocks = w
    B, T = ids.shape; E = wte.shape[1]; D = E // H
    h = wte[ids] + wpe[torch.arange(T)].unsqueeze(0)
    ext = None if mask is None else (1.0 - mask[:, None, None, :].float()) * MIN
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for b in blocks:
        x = ln(h, 1e-5)
        qkv = torch.addmm(torch.zeros(3*E), x.view(-1, E), b['c_attn']).view(B, T, 3*E)
        q, k, v = qkv.split(E, dim=2)
        q, k, v = [t.view(B, T, H, D).permute(0, 2, 1, 3) for t in (q, k, v)]
        s = torch.matmul(q, k.transpose(-1, -2)) / torch.full([], D ** 0.5)
        s = torch.where(causal, s, torch.full([], MIN))
        if ext is not None: s = s + ext
        a = torch.matmul(F.softmax(s, dim=-1), v).permute(0, 2, 1, 3).contiguous().view(B, T, E)
        a = torch.addmm(torch.zeros(E), a.view(-1, E), b['c_proj']).view(B, T, E)
        h = a + h
        x = ln(h, 1e-5)
        m = torch.addmm(torch.zeros(4*E), x.view(-1, E), b['c_fc'])
        m = torch.addmm(torch.zeros(E), gelu_new(m), b['mlp_proj']).view(B, T, E)
        h = h + m
    h = ln(h, 1e-5)
    return F.linear(h, wte)

def clm_loss(logits, labels):
    labels = F.pad(labels, (0, 1), value=-100)[..., 1:].contiguous()
    return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)

def encoder_weights(seed, roberta, V=1000, H=32, L=2, I=64, P=66, T=1, pad=1):
    torch.manual_seed(seed)
    word = nn.Embedding(V, H, padding_idx=pad); pos = nn.Embedding(P, H); tt = nn.Embedding(T, H)
    if roberta: pos = nn.Embedding(P, H, padding_idx=pad)
    layers = []
    for i in range(L):
        layers.append(dict(q=nn.Linear(H, H), k=nn.Linear(H, H), v=nn.Linear(H, H), o=nn.Linear(H, H), i=nn.Linear(H, I), out=nn.Linear(I, H)))
    with torch.no_grad():
        word.weight.normal_(0, ir); word.weight[pad].zero_()
        pos.weight.normal_(0, ir)
        if roberta: pos.weight[pad].zero_()
        tt.weight.normal_(0, ir)
        for layer in layers:
            for lin in layer.values():
                lin.weight.normal_(0, ir); lin.bias.zero_()
        dense = nn.Linear(H, H)
        nn.Linear(H, V) if roberta else nn.Linear(H, V, bias=False)
        dense.weight.normal_(0, ir); dense.bias.zero_()
        torch.empty(V, H).normal_(0, ir)
    return dict(word=word.weight.data, pos=pos.weight.data, tt=tt.weight.data, layers=layers, dense=dense, pad=pad)

def encoder_forward(ids, mask, w, roberta, eps, H=2):
    B, T = ids.shape; E = w['word'].shape[1]; D = E // H
    if roberta:
        m = ids.ne(w['pad']).int()
        positions = (torch.cumsum(m, dim=1).type_as(m) * m).long() + w['pad']
    else:
        positions = torch.arange(T).unsqueeze(0)
    e = w['word'][ids] + w['tt'][torch.zeros_like(ids)]
    e = e + w['pos'][positions]
    h = ln(e, eps)
    ext = None if mask is None else (1.0 - mask[:, None, None, :].float()) * MIN
    with torch.no_grad():
        for layer in w['layers']:
            q, k, v = [layer[n](h).view(B, T, H, D).permute(0, 2, 1, 3) for n in 'qkv']
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D)
            if ext is not None: s = s + ext
            a = torch.matmul(F.softmax(s, dim=-1), v).permute(0, 2, 1, 3).contiguous().view(B, T, E)
            h = ln(layer['o'](a) + h, eps)
            h = ln(layer['out'](F.gelu(layer['i'](h))) + h, eps)
        x = ln(F.gelu(w['dense'](h)), eps)
        return F.linear(x, w['word'], torch.zeros(w['word'].shape[0]))

def show(name, logits, loss, picks, columns=(0, 1, 2)):
    print(name, 'loss', repr(float(loss)), 'columns', list(columns))
    for (b, t) in picks:
        print('  ', (b, t), [repr(float(x)) for x in logits[b, t, list(columns)].tolist()])

with torch.no_grad():
    w = gpt2_weights(42)
    ids = torch.tensor([[5, 17, 256, 3, 999, 42, 7, 8]])
    logits = gpt2_forward(ids, None, w)
    show('gpt2 plain', logits, clm_loss(logits, ids), [(0, 0), (0, 4), (0, 7)])
    ids = torch.tensor([[5, 17, 256, 3, 0, 0], [7, 8, 9, 10, 11, 12]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    labels = torch.tensor([[5, 17, 256, 3, -100, -100], [7, 8, 9, 10, 11, 12]])
    logits = gpt2_forward(ids, mask, w)
    show('gpt2 padded', logits, clm_loss(logits, labels), [(0, 3), (1, 5)])

    w = encoder_weights(42, True)
    ids = torch.tensor([[0, 5, 6, 7, 2, 1, 1], [0, 8, 9, 10, 11, 12, 2]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1] * 7])
    labels = torch.tensor([[-100, 5, -100, 7, -100, -100, -100], [-100, -100, 9, -100, -100, 12, -100]])
    logits = encoder_forward(ids, mask, w, True, 1e-5)
    show('roberta', logits, F.cross_entropy(logits.view(-1, 1000), labels.view(-1)), [(0, 1), (0, 4), (1, 6)], (0, 2, 5, 7, 12))

    w = encoder_weights(42, False, P=64, T=2, pad=0)
    ids = torch.tensor([[2, 5, 6, 7, 3, 0, 0], [2, 8, 9, 10, 11, 12, 3]])
    logits = encoder_forward(ids, mask, w, False, 1e-12)
    show('bert', logits, F.cross_entropy(logits.view(-1, 1000), labels.view(-1)), [(0, 1), (0, 4), (1, 6)], (1, 2, 5, 7, 12))
