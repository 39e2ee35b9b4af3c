"""The Caffe message schema: every message and field a BVLC Caffe prototxt may contain.

This is Cortado's own description of ``caffe.proto`` (BVLC master, plus SSD's
``permute_param`` for the Permute layer), written as a compact table: one line per field,

    name  type[*]  [= default]

where ``*`` marks a repeated field and the default is what proto2 returns when the field is
absent. Field numbers are not needed for text files; the binary ``.caffemodel`` reader
(``weights.py``) declares the few numbered fields it decodes. A prototxt field missing from
this table is an error that names it, unless a registered custom layer claims it.
"""

MESSAGES = r"""
message BlobShape
  dim                int64*

message BlobProto
  shape              BlobShape
  data               float*
  diff               float*
  double_data        double*
  double_diff        double*
  num                int64 = 0
  channels           int64 = 0
  height             int64 = 0
  width              int64 = 0

message FillerParameter
  type               string = "constant"
  value              float = 0
  min                float = 0
  max                float = 1
  mean               float = 0
  std                float = 1
  sparse             int32 = -1
  variance_norm      VarianceNorm = FAN_IN

message NetParameter
  name               string
  input              string*
  input_shape        BlobShape*
  input_dim          int32*
  force_backward     bool = false
  state              NetState
  debug_info         bool = false
  layer              LayerParameter*
  layers             V1LayerParameter*

message NetState
  phase              Phase = TEST
  level              int32 = 0
  stage              string*

message NetStateRule
  phase              Phase
  min_level          int32
  max_level          int32
  stage              string*
  not_stage          string*

message ParamSpec
  name               string
  share_mode         DimCheckMode
  lr_mult            float = 1
  decay_mult         float = 1

message LayerParameter
  name               string
  type               string
  bottom             string*
  top                string*
  phase              Phase
  loss_weight        float*
  param              ParamSpec*
  blobs              BlobProto*
  propagate_down     bool*
  include            NetStateRule*
  exclude            NetStateRule*
  transform_param    TransformationParameter
  loss_param         LossParameter
  accuracy_param     AccuracyParameter
  argmax_param       ArgMaxParameter
  batch_norm_param   BatchNormParameter
  bias_param         BiasParameter
  clip_param         ClipParameter
  concat_param       ConcatParameter
  contrastive_loss_param ContrastiveLossParameter
  convolution_param  ConvolutionParameter
  crop_param         CropParameter
  data_param         DataParameter
  dropout_param      DropoutParameter
  dummy_data_param   DummyDataParameter
  eltwise_param      EltwiseParameter
  elu_param          ELUParameter
  embed_param        EmbedParameter
  exp_param          ExpParameter
  flatten_param      FlattenParameter
  hdf5_data_param    HDF5DataParameter
  hdf5_output_param  HDF5OutputParameter
  hinge_loss_param   HingeLossParameter
  image_data_param   ImageDataParameter
  infogain_loss_param InfogainLossParameter
  inner_product_param InnerProductParameter
  input_param        InputParameter
  log_param          LogParameter
  lrn_param          LRNParameter
  memory_data_param  MemoryDataParameter
  mvn_param          MVNParameter
  parameter_param    ParameterParameter
  permute_param      PermuteParameter
  pooling_param      PoolingParameter
  power_param        PowerParameter
  prelu_param        PReLUParameter
  python_param       PythonParameter
  recurrent_param    RecurrentParameter
  reduction_param    ReductionParameter
  relu_param         ReLUParameter
  reshape_param      ReshapeParameter
  scale_param        ScaleParameter
  sigmoid_param      SigmoidParameter
  softmax_param      SoftmaxParameter
  spp_param          SPPParameter
  slice_param        SliceParameter
  swish_param        SwishParameter
  tanh_param         TanHParameter
  threshold_param    ThresholdParameter
  tile_param         TileParameter
  window_data_param  WindowDataParameter

message TransformationParameter
  scale              float = 1
  mirror             bool = false
  crop_size          uint32 = 0
  mean_file          string
  mean_value         float*
  force_color        bool = false
  force_gray         bool = false

message LossParameter
  ignore_label       int32
  normalization      NormalizationMode = VALID
  normalize          bool

message AccuracyParameter
  top_k              uint32 = 1
  axis               int32 = 1
  ignore_label       int32

message ArgMaxParameter
  out_max_val        bool = false
  top_k              uint32 = 1
  axis               int32

message ClipParameter
  min                float
  max                float

message ConcatParameter
  axis               int32 = 1
  concat_dim         uint32 = 1

message BatchNormParameter
  use_global_stats   bool
  moving_average_fraction float = 0.999
  eps                float = 1e-5

message BiasParameter
  axis               int32 = 1
  num_axes           int32 = 1
  filler             FillerParameter

message ContrastiveLossParameter
  margin             float = 1
  legacy_version     bool = false

message ConvolutionParameter
  num_output         uint32
  bias_term          bool = true
  pad                uint32*
  kernel_size        uint32*
  stride             uint32*
  dilation           uint32*
  pad_h              uint32 = 0
  pad_w              uint32 = 0
  kernel_h           uint32
  kernel_w           uint32
  stride_h           uint32
  stride_w           uint32
  group              uint32 = 1
  weight_filler      FillerParameter
  bias_filler        FillerParameter
  engine             Engine = DEFAULT
  axis               int32 = 1
  force_nd_im2col    bool = false

message CropParameter
  axis               int32 = 2
  offset             uint32*

message DataParameter
  source             string
  batch_size         uint32
  rand_skip          uint32 = 0
  backend            DB = LEVELDB
  scale              float = 1
  mean_file          string
  crop_size          uint32 = 0
  mirror             bool = false
  force_encoded_color bool = false
  prefetch           uint32 = 4

message DropoutParameter
  dropout_ratio      float = 0.5

message DummyDataParameter
  data_filler        FillerParameter*
  shape              BlobShape*
  num                uint32*
  channels           uint32*
  height             uint32*
  width              uint32*

message EltwiseParameter
  operation          EltwiseOp = SUM
  coeff              float*
  stable_prod_grad   bool = true

message ELUParameter
  alpha              float = 1

message EmbedParameter
  num_output         uint32
  input_dim          uint32
  bias_term          bool = true
  weight_filler      FillerParameter
  bias_filler        FillerParameter

message ExpParameter
  base               float = -1
  scale              float = 1
  shift              float = 0

message FlattenParameter
  axis               int32 = 1
  end_axis           int32 = -1

message HDF5DataParameter
  source             string
  batch_size         uint32
  shuffle            bool = false

message HDF5OutputParameter
  file_name          string

message HingeLossParameter
  norm               HingeNorm = L1

message ImageDataParameter
  source             string
  batch_size         uint32 = 1
  rand_skip          uint32 = 0
  shuffle            bool = false
  new_height         uint32 = 0
  new_width          uint32 = 0
  is_color           bool = true
  scale              float = 1
  mean_file          string
  crop_size          uint32 = 0
  mirror             bool = false
  root_folder        string = ""

message InfogainLossParameter
  source             string
  axis               int32 = 1

message InnerProductParameter
  num_output         uint32
  bias_term          bool = true
  weight_filler      FillerParameter
  bias_filler        FillerParameter
  axis               int32 = 1
  transpose          bool = false

message InputParameter
  shape              BlobShape*

message LogParameter
  base               float = -1
  scale              float = 1
  shift              float = 0

message LRNParameter
  local_size         uint32 = 5
  alpha              float = 1
  beta               float = 0.75
  norm_region        NormRegion = ACROSS_CHANNELS
  k                  float = 1
  engine             Engine = DEFAULT

message MemoryDataParameter
  batch_size         uint32
  channels           uint32
  height             uint32
  width              uint32

message MVNParameter
  normalize_variance bool = true
  across_channels    bool = false
  eps                float = 1e-9

message ParameterParameter
  shape              BlobShape

message PermuteParameter
  order              uint32*

message PoolingParameter
  pool               PoolMethod = MAX
  pad                uint32 = 0
  pad_h              uint32 = 0
  pad_w              uint32 = 0
  kernel_size        uint32
  kernel_h           uint32
  kernel_w           uint32
  stride             uint32 = 1
  stride_h           uint32
  stride_w           uint32
  engine             Engine = DEFAULT
  global_pooling     bool = false

message PowerParameter
  power              float = 1
  scale              float = 1
  shift              float = 0

message PythonParameter
  module             string
  layer              string
  param_str          string = ""
  share_in_parallel  bool = false

message RecurrentParameter
  num_output         uint32 = 0
  weight_filler      FillerParameter
  bias_filler        FillerParameter
  debug_info         bool = false
  expose_hidden      bool = false

message ReductionParameter
  operation          ReductionOp = SUM
  axis               int32 = 0
  coeff              float = 1

message ReLUParameter
  negative_slope     float = 0
  engine             Engine = DEFAULT

message ReshapeParameter
  shape              BlobShape
  axis               int32 = 0
  num_axes           int32 = -1

message ScaleParameter
  axis               int32 = 1
  num_axes           int32 = 1
  filler             FillerParameter
  bias_term          bool = false
  bias_filler        FillerParameter

message SigmoidParameter
  engine             Engine = DEFAULT

message SliceParameter
  axis               int32 = 1
  slice_point        uint32*
  slice_dim          uint32 = 1

message SoftmaxParameter
  engine             Engine = DEFAULT
  axis               int32 = 1

message SwishParameter
  beta               float = 1

message TanHParameter
  engine             Engine = DEFAULT

message TileParameter
  axis               int32 = 1
  tiles              int32

message ThresholdParameter
  threshold          float = 0

message WindowDataParameter
  source             string
  scale              float = 1
  mean_file          string
  batch_size         uint32
  crop_size          uint32 = 0
  mirror             bool = false
  fg_threshold       float = 0.5
  bg_threshold       float = 0.5
  fg_fraction        float = 0.25
  context_pad        uint32 = 0
  crop_mode          string = "warp"
  cache_images       bool = false
  root_folder        string = ""

message SPPParameter
  pyramid_height     uint32
  pool               PoolMethod = MAX
  engine             Engine = DEFAULT

message PReLUParameter
  filler             FillerParameter
  channel_shared     bool = false
"""

ENUMS = r"""
enum Phase              TRAIN=0 TEST=1
enum DimCheckMode       STRICT=0 PERMISSIVE=1
enum VarianceNorm       FAN_IN=0 FAN_OUT=1 AVERAGE=2
enum NormalizationMode  FULL=0 VALID=1 BATCH_SIZE=2 NONE=3
enum Engine             DEFAULT=0 CAFFE=1 CUDNN=2
enum DB                 LEVELDB=0 LMDB=1
enum EltwiseOp          PROD=0 SUM=1 MAX=2
enum HingeNorm          L1=1 L2=2
enum NormRegion         ACROSS_CHANNELS=0 WITHIN_CHANNEL=1
enum PoolMethod         MAX=0 AVE=1 STOCHASTIC=2
enum ReductionOp        SUM=1 ASUM=2 SUMSQ=3 MEAN=4
enum V1LayerType        NONE=0 ABSVAL=35 ACCURACY=1 ARGMAX=30 BNLL=2 CONCAT=3 CONTRASTIVE_LOSS=37
                        CONVOLUTION=4 DATA=5 DECONVOLUTION=39 DROPOUT=6 DUMMY_DATA=32 EUCLIDEAN_LOSS=7
                        ELTWISE=25 EXP=38 FLATTEN=8 HDF5_DATA=9 HDF5_OUTPUT=10 HINGE_LOSS=28 IM2COL=11
                        IMAGE_DATA=12 INFOGAIN_LOSS=13 INNER_PRODUCT=14 LRN=15 MEMORY_DATA=29
                        MULTINOMIAL_LOGISTIC_LOSS=16 MVN=34 POOLING=17 POWER=26 RELU=18 SIGMOID=19
                        SIGMOID_CROSS_ENTROPY_LOSS=27 SILENCE=36 SOFTMAX=20 SOFTMAX_LOSS=21 SPLIT=22
                        SLICE=33 TANH=23 WINDOW_DATA=24 THRESHOLD=31
"""
