"""Fields and messages the widely used Caffe forks add, in the same table form as ``caffe_schema``.

A message named again here *extends* the BVLC message of that name (``schema._parse_messages``
merges them), so the BVLC table stays a faithful copy of ``caffe.proto`` and every fork
addition is listed in one place, with where it comes from:

* SSD (weiliu89/caffe): ``prior_box_param``, ``norm_param`` (Normalize),
  ``detection_output_param`` (its NMS and save-output messages are declared so a deploy
  prototxt binds; ``clip`` is OpenCV's addition, see ``layers_ssd``).
* Pooling rounding: ``ceil_mode`` (BVLC pull request 3057, kept by OpenCV's schema) and
  ``round_mode`` (the CEIL/FLOOR enum of the PSPNet/TSN forks).
* PSPNet/DeepLab ``interp_param``; SegNet/YOLOv3 ports ``upsample_param``; ShuffleNet
  ``shuffle_channel_param``; YOLOv2 ports ``reorg_param`` and ``region_param``.

A field that is in none of these tables is still an error naming the field, layer and line.
"""

FORK_MESSAGES = r"""
message LayerParameter
  prior_box_param    PriorBoxParameter
  norm_param         NormalizeParameter
  detection_output_param DetectionOutputParameter
  interp_param       InterpParameter
  upsample_param     UpsampleParameter
  shuffle_channel_param ShuffleChannelParameter
  reorg_param        ReorgParameter
  region_param       RegionParameter

message PoolingParameter
  ceil_mode          bool = true
  round_mode         RoundMode = CEIL

message PriorBoxParameter
  min_size           float*
  max_size           float*
  aspect_ratio       float*
  flip               bool = true
  clip               bool = false
  variance           float*
  img_size           uint32
  img_h              uint32
  img_w              uint32
  step               float
  step_h             float
  step_w             float
  offset             float = 0.5

message NormalizeParameter
  across_spatial     bool = true
  scale_filler       FillerParameter
  channel_shared     bool = true
  eps                float = 1e-10

message NonMaximumSuppressionParameter
  nms_threshold      float = 0.3
  top_k              int32
  eta                float = 1

message SaveOutputParameter
  output_directory   string
  output_name_prefix string
  output_format      string
  label_map_file     string
  name_size_file     string
  num_test_image     uint32
  resize_param       ResizeParameter

message ResizeParameter
  prob               float = 1
  resize_mode        ResizeMode = WARP
  height             uint32 = 0
  width              uint32 = 0
  height_scale       uint32 = 0
  width_scale        uint32 = 0
  pad_mode           PadMode = CONSTANT
  pad_value          float*
  interp_mode        InterpMode*

message DetectionOutputParameter
  num_classes        uint32
  share_location     bool = true
  background_label_id int32 = 0
  nms_param          NonMaximumSuppressionParameter
  save_output_param  SaveOutputParameter
  code_type          CodeType = CORNER
  variance_encoded_in_target bool = false
  keep_top_k         int32 = -1
  confidence_threshold float
  visualize          bool = false
  visualize_threshold float
  save_file          string
  normalized_bbox    bool = true
  clip               bool = false

message InterpParameter
  height             int32 = 0
  width              int32 = 0
  zoom_factor        int32 = 1
  shrink_factor      int32 = 1
  pad_beg            int32 = 0
  pad_end            int32 = 0

message UpsampleParameter
  scale              uint32 = 2
  scale_h            uint32
  scale_w            uint32
  pad_out_h          bool = false
  pad_out_w          bool = false
  upsample_h         uint32
  upsample_w         uint32

message ShuffleChannelParameter
  group              uint32 = 1

message ReorgParameter
  stride             uint32 = 2
  reverse            bool = false

message RegionParameter
  classes            uint32 = 20
  coords             uint32 = 4
  num                uint32 = 5
  boxes_of_each_grid uint32 = 5
  softmax            bool = false
  softmax_tree       bool = false
  biases             float*
  anchors            float*
"""

FORK_ENUMS = r"""
enum RoundMode          CEIL=0 FLOOR=1
enum CodeType           CORNER=1 CENTER_SIZE=2 CORNER_SIZE=3
enum ResizeMode         WARP=1 FIT_SMALL_SIZE=2 FIT_LARGE_SIZE_AND_PAD=3
enum PadMode            CONSTANT=1 MIRRORED=2 REPEAT_NEAREST=3
enum InterpMode         LINEAR=1 AREA=2 NEAREST=3 CUBIC=4 LANCZOS4=5
"""
