"""Diffusion samplers, guidance, likelihoods and analytic targets for any denoiser."""

from . import samplers as samplers
from . import targets as targets
from ._adapters import EDMPreconditioner as EDMPreconditioner
from ._adapters import EpsDenoiser as EpsDenoiser
from ._adapters import ScoreDenoiser as ScoreDenoiser
from ._adapters import VDenoiser as VDenoiser
from ._adapters import VelocityDenoiser as VelocityDenoiser
from ._apg import AdaptiveProjectedGuidance as AdaptiveProjectedGuidance
from ._cfg import ClassifierFreeGuidance as ClassifierFreeGuidance
from ._likelihood import log_likelihood as log_likelihood
from ._losses import edm_loss as edm_loss
from ._losses import flow_matching_loss as flow_matching_loss
from ._processes import VE as VE
from ._processes import VP as VP
from ._processes import AbstractProcess as AbstractProcess
from ._processes import FlowMatching as FlowMatching
from ._processes import SubVP as SubVP
from ._sample import check_sigmas as check_sigmas
from ._sample import sample as sample
from ._schedules import exponential_sigmas as exponential_sigmas
from ._schedules import karras_sigmas as karras_sigmas
from ._schedules import linear_time_sigmas as linear_time_sigmas
from ._schedules import polyexponential_sigmas as polyexponential_sigmas
from ._schedules import vp_sigmas as vp_sigmas
from ._stateful import AbstractStatefulDenoiser as AbstractStatefulDenoiser
from .samplers import DDIM as DDIM
from .samplers import DPM2 as DPM2
from .samplers import LMS as LMS
from .samplers import AbstractCorrector as AbstractCorrector
from .samplers import AbstractSampler as AbstractSampler
from .samplers import DPMpp2M as DPMpp2M
from .samplers import DPMpp2MSDE as DPMpp2MSDE
from .samplers import DPMpp2SAncestral as DPMpp2SAncestral
from .samplers import DPMpp3MSDE as DPMpp3MSDE
from .samplers import DPMppSDE as DPMppSDE
from .samplers import Euler as Euler
from .samplers import EulerAncestral as EulerAncestral
from .samplers import EulerMaruyama as EulerMaruyama
from .samplers import Heun as Heun
from .samplers import Langevin as Langevin
from .samplers import PredictorCorrector as PredictorCorrector

__all__ = [
    "samplers",
    "targets",
    "EDMPreconditioner",
    "EpsDenoiser",
    "ScoreDenoiser",
    "VDenoiser",
    "VelocityDenoiser",
    "AdaptiveProjectedGuidance",
    "ClassifierFreeGuidance",
    "log_likelihood",
    "edm_loss",
    "flow_matching_loss",
    "VE",
    "VP",
    "AbstractProcess",
    "FlowMatching",
    "SubVP",
    "check_sigmas",
    "sample",
    "exponential_sigmas",
    "karras_sigmas",
    "linear_time_sigmas",
    "polyexponential_sigmas",
    "vp_sigmas",
    "AbstractStatefulDenoiser",
    "DDIM",
    "DPM2",
    "LMS",
    "AbstractCorrector",
    "AbstractSampler",
    "DPMpp2M",
    "DPMpp2MSDE",
    "DPMpp2SAncestral",
    "DPMpp3MSDE",
    "DPMppSDE",
    "Euler",
    "EulerAncestral",
    "EulerMaruyama",
    "Heun",
    "Langevin",
    "PredictorCorrector",
]
