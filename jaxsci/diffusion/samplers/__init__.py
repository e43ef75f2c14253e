"""Samplers: one `AbstractSampler` subclass a file, plus the shared noise helpers."""

from ._base import AbstractSampler as AbstractSampler
from ._base import ancestral_step as ancestral_step
from ._base import unless_last as unless_last
from ._history import History as History
from ._noise import normal_like as normal_like
from ._ddim import DDIM as DDIM
from ._dpm2 import DPM2 as DPM2
from ._dpmpp_2m import DPMpp2M as DPMpp2M
from ._dpmpp_2m_sde import DPMpp2MSDE as DPMpp2MSDE
from ._dpmpp_2s_ancestral import DPMpp2SAncestral as DPMpp2SAncestral
from ._dpmpp_3m_sde import DPMpp3MSDE as DPMpp3MSDE
from ._dpmpp_sde import DPMppSDE as DPMppSDE
from ._euler import Euler as Euler
from ._euler_ancestral import EulerAncestral as EulerAncestral
from ._euler_maruyama import EulerMaruyama as EulerMaruyama
from ._heun import Heun as Heun
from ._lms import LMS as LMS
from ._predictor_corrector import AbstractCorrector as AbstractCorrector
from ._predictor_corrector import Langevin as Langevin
from ._predictor_corrector import PredictorCorrector as PredictorCorrector

__all__ = [
    "AbstractSampler",
    "ancestral_step",
    "unless_last",
    "History",
    "normal_like",
    "DDIM",
    "DPM2",
    "DPMpp2M",
    "DPMpp2MSDE",
    "DPMpp2SAncestral",
    "DPMpp3MSDE",
    "DPMppSDE",
    "Euler",
    "EulerAncestral",
    "EulerMaruyama",
    "Heun",
    "LMS",
    "AbstractCorrector",
    "Langevin",
    "PredictorCorrector",
]
