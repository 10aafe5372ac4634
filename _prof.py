import cProfile, pstats, warnings, numpy as np, time, sys
warnings.filterwarnings("ignore")
import xaiwidgets as xw
kind=sys.argv[1]
if kind=="tab":
    ds=xw.datasets.load_credit(); m=xw.wrap(xw.zoo.train_mlp(ds, progress=False), ds); meth="gradient"
else:
    ds=xw.datasets.load_digits(); m=xw.wrap(xw.zoo.train_cnn(ds, progress=False), ds); meth="ig"
w=xw.ExplainerWidget(m, ds, method=meth, index=0); w.wait()
w._worker.close()
vals=iter(np.linspace(35,95,400) if kind=="tab" else np.linspace(0.05,0.45,400))
def step():
    x=w.x
    if kind=="tab": x[0]=next(vals)
    else: x=x*0.999+0.0001*next(vals)
    st=w._state(); st["x"]=x
    r=w._compute(st)
    t=time.perf_counter(); w._show(st, r); return time.perf_counter()-t
for _ in range(5): step()
ts=[step() for _ in range(40)]
print('show median ms', np.median(ts)*1000)
pr=cProfile.Profile(); pr.enable()
for _ in range(40): step()
pr.disable()
pstats.Stats(pr).sort_stats('tottime').print_stats(12)
