"""The legacy Caffe layer messages: V1 ``layers {}`` entries and the V0 ``layer {}`` nested in
them (see ``upgrade.py``), in the same table form as ``caffe_schema``."""

LEGACY_MESSAGES = r"""
message V1LayerParameter
  bottom             string*
  top                string*
  name               string
  include            NetStateRule*
  exclude            NetStateRule*
  type               V1LayerType = NONE
  blobs              BlobProto*
  param              string*
  blob_share_mode    DimCheckMode*
  blobs_lr           float*
  weight_decay       float*
  loss_weight        float*
  accuracy_param     AccuracyParameter
  argmax_param       ArgMaxParameter
  concat_param       ConcatParameter
  contrastive_loss_param ContrastiveLossParameter
  convolution_param  ConvolutionParameter
  data_param         DataParameter
  dropout_param      DropoutParameter
  dummy_data_param   DummyDataParameter
  eltwise_param      EltwiseParameter
  exp_param          ExpParameter
  hdf5_data_param    HDF5DataParameter
  hdf5_output_param  HDF5OutputParameter
  hinge_loss_param   HingeLossParameter
  image_data_param   ImageDataParameter
  infogain_loss_param InfogainLossParameter
  inner_product_param InnerProductParameter
  lrn_param          LRNParameter
  memory_data_param  MemoryDataParameter
  mvn_param          MVNParameter
  pooling_param      PoolingParameter
  power_param        PowerParameter
  relu_param         ReLUParameter
  sigmoid_param      SigmoidParameter
  softmax_param      SoftmaxParameter
  slice_param        SliceParameter
  tanh_param         TanHParameter
  threshold_param    ThresholdParameter
  window_data_param  WindowDataParameter
  transform_param    TransformationParameter
  loss_param         LossParameter
  layer              V0LayerParameter

message V0LayerParameter
  name               string
  type               string
  num_output         uint32
  biasterm           bool = true
  weight_filler      FillerParameter
  bias_filler        FillerParameter
  pad                uint32 = 0
  kernelsize         uint32
  group              uint32 = 1
  stride             uint32 = 1
  pool               PoolMethod = MAX
  dropout_ratio      float = 0.5
  local_size         uint32 = 5
  alpha              float = 1
  beta               float = 0.75
  k                  float = 1
  source             string
  scale              float = 1
  meanfile           string
  batchsize          uint32
  cropsize           uint32 = 0
  mirror             bool = false
  blobs              BlobProto*
  blobs_lr           float*
  weight_decay       float*
  rand_skip          uint32 = 0
  det_fg_threshold   float = 0.5
  det_bg_threshold   float = 0.5
  det_fg_fraction    float = 0.25
  det_context_pad    uint32 = 0
  det_crop_mode      string = "warp"
  new_num            int32 = 0
  new_channels       int32 = 0
  new_height         int32 = 0
  new_width          int32 = 0
  shuffle_images     bool = false
  concat_dim         uint32 = 1
  hdf5_output_param  HDF5OutputParameter
"""
