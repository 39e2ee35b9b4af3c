"""The closed set of IR operators, named as in ONNX.

Frontends turn ONNX ``op_type`` strings and Caffe layer types into these members, so a typo
fails at the parser instead of silently never matching in a pass. ``Op.RELU == "Relu"`` holds,
which keeps user code short. Several ONNX operators are canonicalized on import and have no
member here: Flatten/Squeeze/Unsqueeze become ``Reshape``, variadic Sum/Mean/Max/Min become
binary chains, Split becomes ``Slice`` nodes, CastLike becomes ``Cast``, Upsample becomes
``Resize``, Einsum becomes Transpose/Reshape/MatMul/ReduceSum, Constant becomes an
initializer, the quantization ops become Cast/Round/Clip arithmetic, RNN/GRU/LSTM are unrolled
into MatMul and elementwise ops, If/Loop/Scan with compile-time paths are inlined, and ops
that ONNX defines by a function body (Attention, RMSNormalization, ...) import as that body.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Op"]


class Op(str, Enum):
    # unary elementwise
    ABS = "Abs"
    NEG = "Neg"
    EXP = "Exp"
    LOG = "Log"
    SQRT = "Sqrt"
    RECIPROCAL = "Reciprocal"
    FLOOR = "Floor"
    CEIL = "Ceil"
    ROUND = "Round"
    SIGN = "Sign"
    RELU = "Relu"
    SIGMOID = "Sigmoid"
    TANH = "Tanh"
    ERF = "Erf"
    SIN = "Sin"
    COS = "Cos"
    TAN = "Tan"
    ASIN = "Asin"
    ACOS = "Acos"
    ATAN = "Atan"
    SINH = "Sinh"
    COSH = "Cosh"
    ASINH = "Asinh"
    ACOSH = "Acosh"
    ATANH = "Atanh"
    SOFTPLUS = "Softplus"
    SOFTSIGN = "Softsign"
    NOT = "Not"
    BITWISE_NOT = "BitwiseNot"
    IS_NAN = "IsNaN"
    IS_INF = "IsInf"
    LEAKY_RELU = "LeakyRelu"
    ELU = "Elu"
    SELU = "Selu"
    CELU = "Celu"
    HARD_SIGMOID = "HardSigmoid"
    HARD_SWISH = "HardSwish"
    MISH = "Mish"
    GELU = "Gelu"
    THRESHOLDED_RELU = "ThresholdedRelu"
    SHRINK = "Shrink"
    IDENTITY = "Identity"
    DROPOUT = "Dropout"
    CAST = "Cast"
    BIT_CAST = "BitCast"
    # binary / ternary elementwise
    ADD = "Add"
    SUB = "Sub"
    MUL = "Mul"
    DIV = "Div"
    POW = "Pow"
    MOD = "Mod"
    MAX = "Max"
    MIN = "Min"
    EQUAL = "Equal"
    LESS = "Less"
    LESS_OR_EQUAL = "LessOrEqual"
    GREATER = "Greater"
    GREATER_OR_EQUAL = "GreaterOrEqual"
    AND = "And"
    OR = "Or"
    XOR = "Xor"
    BITWISE_AND = "BitwiseAnd"
    BITWISE_OR = "BitwiseOr"
    BITWISE_XOR = "BitwiseXor"
    BIT_SHIFT = "BitShift"
    PRELU = "PRelu"
    CLIP = "Clip"
    WHERE = "Where"
    BATCH_NORMALIZATION = "BatchNormalization"
    # reductions and row-wise normalizations
    REDUCE_SUM = "ReduceSum"
    REDUCE_MEAN = "ReduceMean"
    REDUCE_MAX = "ReduceMax"
    REDUCE_MIN = "ReduceMin"
    REDUCE_PROD = "ReduceProd"
    REDUCE_L1 = "ReduceL1"
    REDUCE_L2 = "ReduceL2"
    REDUCE_LOG_SUM = "ReduceLogSum"
    REDUCE_LOG_SUM_EXP = "ReduceLogSumExp"
    REDUCE_SUM_SQUARE = "ReduceSumSquare"
    ARG_MAX = "ArgMax"
    ARG_MIN = "ArgMin"
    SOFTMAX = "Softmax"
    LOG_SOFTMAX = "LogSoftmax"
    HARDMAX = "Hardmax"
    LAYER_NORMALIZATION = "LayerNormalization"
    INSTANCE_NORMALIZATION = "InstanceNormalization"
    GROUP_NORMALIZATION = "GroupNormalization"
    LP_NORMALIZATION = "LpNormalization"
    MEAN_VARIANCE_NORMALIZATION = "MeanVarianceNormalization"
    CUM_SUM = "CumSum"
    CUM_PROD = "CumProd"
    TOP_K = "TopK"
    # sizes that depend on the data: host steps between segments (cortado.ops.dynamic)
    NON_ZERO = "NonZero"
    NON_MAX_SUPPRESSION = "NonMaxSuppression"
    UNIQUE = "Unique"
    TOP_K_RUNTIME = "TopKRuntime"
    DETECTION_OUTPUT = "DetectionOutput"   # SSD's per-class NMS and keep_top_k (Caffe)
    IF = "If"                  # a condition known only at run time: both branches are sub-plans
    LOOP = "Loop"              # a data trip count or condition: the body is a sub-plan
    SCAN = "Scan"              # a scan over a symbolic length: the body is a sub-plan
    # contractions and windows
    MATMUL = "MatMul"
    GEMM = "Gemm"
    CONV = "Conv"
    CONV_TRANSPOSE = "ConvTranspose"
    MAX_POOL = "MaxPool"
    AVERAGE_POOL = "AveragePool"
    LP_POOL = "LpPool"
    GLOBAL_AVERAGE_POOL = "GlobalAveragePool"
    GLOBAL_MAX_POOL = "GlobalMaxPool"
    LRN = "LRN"
    # data movement and shapes
    RESHAPE = "Reshape"
    TRANSPOSE = "Transpose"
    CONCAT = "Concat"
    SLICE = "Slice"
    GATHER = "Gather"
    GATHER_ELEMENTS = "GatherElements"
    GATHER_ND = "GatherND"
    SCATTER_ND = "ScatterND"
    SCATTER_ELEMENTS = "ScatterElements"
    TENSOR_SCATTER = "TensorScatter"
    EXPAND = "Expand"
    TILE = "Tile"
    PAD = "Pad"
    SHAPE = "Shape"
    SIZE = "Size"
    CONSTANT_OF_SHAPE = "ConstantOfShape"
    RANGE = "Range"
    DEPTH_TO_SPACE = "DepthToSpace"
    SPACE_TO_DEPTH = "SpaceToDepth"
    RESIZE = "Resize"
    GRID_SAMPLE = "GridSample"
    ONE_HOT = "OneHot"
    TRILU = "Trilu"

    def __str__(self) -> str:
        return self.value
